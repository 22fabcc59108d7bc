namespace EdgePlatform.Training.Sweeps;

/// <summary>A trial could not be scored: its trainer failed on the data, or its metric is not a finite number. The message names the trial, the trainer and why.</summary>
public sealed class TrialFailedException : Exception
{
    public TrialFailedException()
    {
    }

    public TrialFailedException(string message)
        : base(message)
    {
    }

    public TrialFailedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
