namespace EdgePlatform.Agent.Inference;

/// <summary>
/// A model could not be loaded: its file is unreadable or not ONNX, or its card does not
/// describe its graph. The message names the input or output at fault.
/// </summary>
public sealed class ModelLoadException : Exception
{
    public ModelLoadException()
    {
    }

    public ModelLoadException(string message)
        : base(message)
    {
    }

    public ModelLoadException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
