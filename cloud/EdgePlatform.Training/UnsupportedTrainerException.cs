namespace EdgePlatform.Training;

/// <summary>The requested trainer is unknown, or cannot run on this machine (its native library failed to load).</summary>
public sealed class UnsupportedTrainerException : Exception
{
    public UnsupportedTrainerException()
    {
    }

    public UnsupportedTrainerException(string message)
        : base(message)
    {
    }

    public UnsupportedTrainerException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public UnsupportedTrainerException(string trainer, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Trainer = trainer;
    }

    public string? Trainer { get; }
}
