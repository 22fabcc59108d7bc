namespace EdgePlatform.Agent.Scorer;

/// <summary>The scorer's model directory holds files that cannot be served: the message says which and why.</summary>
public sealed class ScorerModelException : Exception
{
    public ScorerModelException()
    {
    }

    public ScorerModelException(string message)
        : base(message)
    {
    }

    public ScorerModelException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
