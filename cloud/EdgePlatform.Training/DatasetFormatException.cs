namespace EdgePlatform.Training;

/// <summary>
/// A dataset cannot be trained on as given. The message says what to fix; <see cref="LineNumber"/>
/// (1-based, the header is line 1) and <see cref="Column"/> point at the offending cell when there is one.
/// </summary>
public sealed class DatasetFormatException : Exception
{
    public DatasetFormatException()
    {
    }

    public DatasetFormatException(string message)
        : base(message)
    {
    }

    public DatasetFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public DatasetFormatException(string message, int? lineNumber, string? column)
        : base(message)
    {
        LineNumber = lineNumber;
        Column = column;
    }

    public int? LineNumber { get; }

    public string? Column { get; }
}
