namespace EdgePlatform.Agent.Inference;

/// <summary>
/// The graph gave an output its card cannot read, such as a class index outside the card's
/// classes. The message names the output and the value.
/// </summary>
public sealed class ModelOutputException : Exception
{
    public ModelOutputException()
    {
    }

    public ModelOutputException(string message)
        : base(message)
    {
    }

    public ModelOutputException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
