using System.Globalization;
using System.Text;

namespace EdgePlatform.Training.Data;

/// <summary>
/// Writes rows as CSV by the rules of <see cref="TabularWriter"/> (the same rows always give the
/// same bytes), a batch or a row at a time: what cleansing and query snapshots stream through. The
/// header is written on construction.
/// </summary>
public sealed class CsvRowWriter : IDisposable
{
    private static readonly UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false);
    private readonly StreamWriter _writer;
    private readonly DataSchema _schema;
    private readonly char[] _number = new char[64];

    public CsvRowWriter(Stream destination, DataSchema schema)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(schema);
        _schema = schema;
        _writer = new StreamWriter(destination, Utf8NoBom, bufferSize: 1 << 16, leaveOpen: true) { NewLine = "\n" };
        for (var c = 0; c < schema.Columns.Count; c++)
        {
            if (c > 0)
            {
                _writer.Write(',');
            }

            WriteString(schema.Columns[c].Name);
        }

        _writer.Write('\n');
    }

    public long Rows { get; private set; }

    /// <summary>Writes every row of a batch of this writer's schema.</summary>
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
                    WriteNumber(_schema.Columns[c].Kind, numbers[row]);
                }
                else if (batch.Strings[c]![row] is { } text)
                {
                    WriteString(text);
                }
            }

            _writer.Write('\n');
        }

        Rows += batch.RowCount;
    }

    /// <summary>Writes one row given as a number (numeric kinds) or a string (the others) per column.</summary>
    public void WriteRow(ReadOnlySpan<double> numbers, ReadOnlySpan<string?> strings)
    {
        for (var c = 0; c < _schema.Columns.Count; c++)
        {
            if (c > 0)
            {
                _writer.Write(',');
            }

            var kind = _schema.Columns[c].Kind;
            if (kind.IsNumeric())
            {
                WriteNumber(kind, numbers[c]);
            }
            else if (strings[c] is { } text)
            {
                WriteString(text);
            }
        }

        _writer.Write('\n');
        Rows++;
    }

    public void Flush() => _writer.Flush();

    public void Dispose() => _writer.Dispose();

    /// <summary>Booleans as true/false and date-times as ISO-8601 UTC, so the file reads back with the same kinds; missing as nothing.</summary>
    private void WriteNumber(ColumnKind kind, double value)
    {
        if (double.IsNaN(value))
        {
            return;
        }

        if (kind == ColumnKind.Boolean)
        {
            _writer.Write(value != 0 ? "true" : "false");
        }
        else if (kind == ColumnKind.DateTime)
        {
            _writer.Write(TypedColumnarReader.FormatDateTime(value));
        }
        else if (value.TryFormat(_number, out var written, "R", CultureInfo.InvariantCulture))
        {
            _writer.Write(_number, 0, written);
        }
        else
        {
            _writer.Write(value.ToString("R", CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Quoted (RFC 4180) only when empty or holding a comma, quote, line break or surrounding space.</summary>
    private void WriteString(string value)
    {
        var needsQuotes = value.Length == 0
            || value.AsSpan().IndexOfAny(",\"\r\n") >= 0
            || char.IsWhiteSpace(value[0])
            || char.IsWhiteSpace(value[^1]);
        if (!needsQuotes)
        {
            _writer.Write(value);
            return;
        }

        _writer.Write('"');
        _writer.Write(value.Replace("\"", "\"\"", StringComparison.Ordinal));
        _writer.Write('"');
    }
}
