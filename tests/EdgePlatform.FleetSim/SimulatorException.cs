namespace EdgePlatform.FleetSim;

/// <summary>The fleet cannot run: the control plane is unreachable or refused the devices; the message says what to fix.</summary>
public sealed class SimulatorException : Exception
{
    public SimulatorException()
    {
    }

    public SimulatorException(string message)
        : base(message)
    {
    }

    public SimulatorException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>A simulated device refused a package; <see cref="Check"/> names the verification that failed.</summary>
public sealed class PackageRefusedException : Exception
{
    public PackageRefusedException()
    {
        Check = string.Empty;
    }

    public PackageRefusedException(string message)
        : base(message)
    {
        Check = string.Empty;
    }

    public PackageRefusedException(string message, Exception innerException)
        : base(message, innerException)
    {
        Check = string.Empty;
    }

    public PackageRefusedException(string check, string reason)
        : base($"{check} check failed: {reason}")
    {
        Check = check;
    }

    public string Check { get; }
}
