namespace EdgePlatform.Agent.Core.Packages;

/// <summary>A model package failed a verification check; <see cref="Check"/> names which.</summary>
public sealed class PackageRejectedException : Exception
{
    public PackageRejectedException()
    {
        Check = string.Empty;
    }

    public PackageRejectedException(string message)
        : base(message)
    {
        Check = string.Empty;
    }

    public PackageRejectedException(string message, Exception innerException)
        : base(message, innerException)
    {
        Check = string.Empty;
    }

    public PackageRejectedException(string check, string reason)
        : base($"{check} check failed: {reason}")
    {
        Check = check;
        Reason = reason;
    }

    public string Check { get; }

    public string? Reason { get; }
}
