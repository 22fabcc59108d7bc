namespace EdgePlatform.Cli;

/// <summary>A failure to report to the user in one line, with exit code 1; no stack trace.</summary>
public sealed class CliException : Exception
{
    public CliException()
    {
    }

    public CliException(string message)
        : base(message)
    {
    }

    public CliException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
