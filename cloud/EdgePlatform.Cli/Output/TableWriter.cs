using System.Text;

namespace EdgePlatform.Cli.Output;

/// <summary>
/// Plain aligned columns, as kubectl prints them: UPPERCASE headers, three spaces between columns,
/// no borders or colour, so the text reads the same in a terminal, a pipe, a file and a narrow window.
/// </summary>
public static class TableWriter
{
    public const string Separator = "   ";

    /// <summary>The rows under the columns a format shows; empty when there are no rows.</summary>
    public static string Format<T>(IReadOnlyList<Column<T>> columns, IEnumerable<T> rows, bool wide)
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(rows);
        var shown = columns.Where(c => wide || !c.WideOnly).ToList();
        var cells = rows
            .Select(row => (IReadOnlyList<string>)[.. shown.Select(c => (wide && c.WideValue is { } full ? full : c.Value)(row))])
            .ToList();
        return Format([.. shown.Select(c => c.Header)], cells);
    }

    /// <summary>Aligns cells under headers; the last column is not padded, so no line ends in spaces.</summary>
    public static string Format(IReadOnlyList<string> headers, IReadOnlyList<IReadOnlyList<string>> rows)
    {
        ArgumentNullException.ThrowIfNull(headers);
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0)
        {
            return string.Empty;
        }

        var lines = rows.Prepend(headers)
            .Select(row => headers.Select((_, i) => i < row.Count ? Flatten(row[i]) : string.Empty).ToList())
            .ToList();
        var widths = headers.Select((_, i) => lines.Max(line => line[i].Length)).ToList();
        var text = new StringBuilder();
        foreach (var line in lines)
        {
            // The last column is not padded and an empty last cell leaves no separator behind.
            var padded = line.Select((cell, i) => i == line.Count - 1 ? cell : cell.PadRight(widths[i]));
            text.Append(string.Join(Separator, padded).TrimEnd()).Append('\n');
        }

        return text.ToString();
    }

    // A line break or tab inside a cell would break every column after it.
    private static string Flatten(string? cell) =>
        string.IsNullOrEmpty(cell) ? string.Empty : cell.ReplaceLineEndings(" ").Replace('\t', ' ');
}
