using System.Globalization;

namespace EdgePlatform.Training.Data;

/// <summary>Builds <see cref="DatasetFormatException"/>s whose message starts with the file name, then where, then what.</summary>
internal static class DataErrors
{
    /// <summary>Longest cell value quoted in a message; a longer one is cut, so one bad multi-megabyte cell does not flood a log.</summary>
    private const int MaxQuotedValue = 80;

    public static DatasetFormatException File(string source, string message) =>
        new($"{source}: {message}", null, null);

    /// <summary>An error at a line of a text format (1-based, the header is line 1).</summary>
    public static DatasetFormatException AtLine(string source, long line, string? column, string message) =>
        new(column is null
                ? string.Create(CultureInfo.InvariantCulture, $"{source}: line {line}: {message}")
                : string.Create(CultureInfo.InvariantCulture, $"{source}: line {line}, column '{column}': {message}"),
            ToInt(line),
            column);

    /// <summary>An error at a record of a binary format (1-based row number, no header).</summary>
    public static DatasetFormatException AtRow(string source, long row, string? column, string message) =>
        new(column is null
                ? string.Create(CultureInfo.InvariantCulture, $"{source}: row {row}: {message}")
                : string.Create(CultureInfo.InvariantCulture, $"{source}: row {row}, column '{column}': {message}"),
            ToInt(row),
            column);

    public static string Quote(string value) =>
        value.Length <= MaxQuotedValue ? $"'{value}'" : $"'{value[..MaxQuotedValue]}…' ({value.Length} characters)";

    private static int ToInt(long value) => value > int.MaxValue ? int.MaxValue : (int)value;
}
