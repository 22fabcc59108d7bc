namespace EdgePlatform.Training.Import;

/// <summary>
/// An imported model is refused: its graph does not load, its card does not describe the graph, or
/// the graph does not give the sample's expected outputs. <see cref="Field"/> names the part of the
/// request at fault (<c>onnx</c>, <c>card.outputs</c>, <c>sample.rows[3].expected.label</c>).
/// </summary>
public sealed class ModelImportException : Exception
{
    public ModelImportException()
    {
        Field = string.Empty;
    }

    public ModelImportException(string message)
        : base(message)
    {
        Field = string.Empty;
    }

    public ModelImportException(string message, Exception innerException)
        : base(message, innerException)
    {
        Field = string.Empty;
    }

    public ModelImportException(string field, string problem, Exception? innerException = null)
        : base(problem, innerException)
    {
        Field = field;
    }

    public string Field { get; }
}
