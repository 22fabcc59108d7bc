using System.Globalization;
using System.Text;

namespace EdgePlatform.Training.Data.Snapshots;

/// <summary>
/// Writes rows as CSV that is the same bytes for the same values: UTF-8 without a BOM,
/// <c>\n</c> line ends, numbers in the shortest round-trip invariant form, missing values as
/// empty fields, quotes only where a field needs them. Snapshots are named by the digest of these
/// bytes, so equal data gives an equal digest.
/// </summary>
public sealed class SnapshotCsvWriter : IDisposable
{
    private readonly StreamWriter _writer;
    private readonly DataSchema _schema;

    public SnapshotCsvWriter(Stream output, DataSchema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        _schema = schema;
        _writer = new StreamWriter(output, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), 65536, leaveOpen: true) { NewLine = "\n" };
        for (var c = 0; c < schema.Columns.Count; c++)
        {
            if (c > 0)
            {
                _writer.Write(',');
            }

            WriteText(schema.Columns[c].Name);
        }

        _writer.Write('\n');
    }

    public long Rows { get; private set; }

    /// <summary>Writes every row of a batch whose schema matches the writer's.</summary>
    public void Write(DataBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        for (var row = 0; row < batch.RowCount; row++)
        {
            for (var c = 0; c < _schema.Columns.Count; c++)
            {
                if (c > 0)
                {
                    _writer.Write(',');
                }

                if (batch.Numbers[c] is { } numbers)
                {
                    WriteNumber(numbers[row]);
                }
                else
                {
                    WriteText(batch.Strings[c]![row]);
                }
            }

            _writer.Write('\n');
            Rows++;
        }
    }

    /// <summary>Writes one row given as a number or a string per column (by the column's kind).</summary>
    public void WriteRow(ReadOnlySpan<double> numbers, ReadOnlySpan<string?> strings)
    {
        for (var c = 0; c < _schema.Columns.Count; c++)
        {
            if (c > 0)
            {
                _writer.Write(',');
            }

            if (_schema.Columns[c].Kind.IsNumeric())
            {
                WriteNumber(numbers[c]);
            }
            else
            {
                WriteText(strings[c]);
            }
        }

        _writer.Write('\n');
        Rows++;
    }

    public void Flush() => _writer.Flush();

    public void Dispose() => _writer.Dispose();

    public static string FormatNumber(double value) =>
        double.IsNaN(value) ? string.Empty : value.ToString("R", CultureInfo.InvariantCulture);

    private void WriteNumber(double value) => _writer.Write(FormatNumber(value));

    private void WriteText(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }

        if (value.AsSpan().IndexOfAny(",\"\n\r") < 0 && value.Trim().Length == value.Length)
        {
            _writer.Write(value);
            return;
        }

        _writer.Write('"');
        _writer.Write(value.Replace("\"", "\"\"", StringComparison.Ordinal));
        _writer.Write('"');
    }
}
