namespace EdgePlatform.Training;

/// <summary>
/// The exported ONNX graph does not reproduce ML.NET's predictions, so devices would
/// disagree with the evaluated model. The message names the output and the CSV line.
/// </summary>
public sealed class ParityException : Exception
{
    public ParityException()
    {
    }

    public ParityException(string message)
        : base(message)
    {
    }

    public ParityException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public ParityException(string message, string output, int lineNumber, double mlNetValue, double onnxValue)
        : base(message)
    {
        Output = output;
        LineNumber = lineNumber;
        MlNetValue = mlNetValue;
        OnnxValue = onnxValue;
    }

    public string? Output { get; }

    public int? LineNumber { get; }

    public double? MlNetValue { get; }

    public double? OnnxValue { get; }
}
