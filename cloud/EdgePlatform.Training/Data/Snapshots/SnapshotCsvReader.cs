using System.Globalization;
using System.Text;

namespace EdgePlatform.Training.Data.Snapshots;

/// <summary>
/// Reads a delimited text file (CSV or TSV, RFC 4180 quoting, a header row) as an
/// <see cref="ITabularReader"/>. Column kinds are inferred from the first
/// <see cref="InferenceRows"/> rows: a column whose every non-empty value parses as an
/// invariant-culture number is numeric; otherwise categorical when it holds few distinct values,
/// text when many. Memory stays bounded by the inference sample and one batch.
/// </summary>
public sealed class SnapshotCsvReader : ITabularReader
{
    public const int InferenceRows = 1000;
    private const int MaxCategories = 64;

    private readonly TextReader _text;
    private readonly string _source;
    private readonly char _delimiter;
    private readonly Queue<(List<string> Fields, long Line)> _sample = new();
    private readonly DataBatch _batch;
    private readonly string[] _header;
    private long _line;
    private bool _ended;

    public SnapshotCsvReader(Stream stream, string source, char delimiter = ',', int batchSize = 4096)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _text = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 65536, leaveOpen: false);
        _source = source;
        _delimiter = delimiter;
        var header = ReadRecord(out _)
            ?? throw new DatasetFormatException($"{source}: the file is empty; it needs a header row and at least one row", 1, null);
        _header = [.. header.Select(h => h.Trim())];
        for (var i = 0; i < _header.Length; i++)
        {
            if (_header[i].Length == 0)
            {
                throw new DatasetFormatException($"{source}, line 1: column {i + 1} has no name", 1, null);
            }

            if (Array.IndexOf(_header, _header[i]) != i)
            {
                throw new DatasetFormatException($"{source}, line 1: column '{_header[i]}' appears twice", 1, _header[i]);
            }
        }

        while (_sample.Count < InferenceRows && ReadRecord(out var line) is { } record)
        {
            CheckWidth(record, line);
            _sample.Enqueue((record, line));
        }

        Schema = new DataSchema([.. _header.Select((name, i) => new DataColumn(name, Infer(i)))]);
        _batch = new DataBatch(Schema, batchSize);
    }

    public DataSchema Schema { get; }

    public DataBatch? ReadBatch(CancellationToken cancellationToken = default)
    {
        _batch.RowCount = 0;
        while (_batch.RowCount < _batch.Capacity)
        {
            cancellationToken.ThrowIfCancellationRequested();
            List<string> record;
            long line;
            if (_sample.Count > 0)
            {
                (record, line) = _sample.Dequeue();
            }
            else if (!_ended && ReadRecord(out line) is { } next)
            {
                CheckWidth(next, line);
                record = next;
            }
            else
            {
                break;
            }

            if (_batch.RowCount == 0)
            {
                _batch.FirstLine = line;
            }

            var row = _batch.RowCount;
            for (var c = 0; c < _header.Length; c++)
            {
                var field = record[c];
                if (_batch.Numbers[c] is { } numbers)
                {
                    if (field.Trim().Length == 0)
                    {
                        numbers[row] = double.NaN;
                    }
                    else if (double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                    {
                        numbers[row] = value;
                    }
                    else
                    {
                        throw new DatasetFormatException(
                            $"{_source}, line {line}, column '{_header[c]}': '{Shorten(field)}' is not a number (the column is numeric in the first {InferenceRows} rows)",
                            (int)Math.Min(line, int.MaxValue),
                            _header[c]);
                    }
                }
                else
                {
                    _batch.Strings[c]![row] = field.Length == 0 ? null : field;
                }
            }

            _batch.RowCount++;
        }

        return _batch.RowCount == 0 ? null : _batch;
    }

    public void Dispose() => _text.Dispose();

    private ColumnKind Infer(int column)
    {
        var distinct = new HashSet<string>(StringComparer.Ordinal);
        var numeric = true;
        var any = false;
        foreach (var (fields, _) in _sample)
        {
            var field = fields[column];
            if (field.Trim().Length == 0)
            {
                continue;
            }

            any = true;
            numeric &= double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out _);
            if (distinct.Count <= MaxCategories)
            {
                distinct.Add(field);
            }
        }

        return numeric ? ColumnKind.Numeric
            : !any || distinct.Count <= MaxCategories ? ColumnKind.Categorical
            : ColumnKind.Text;
    }

    private void CheckWidth(List<string> record, long line)
    {
        if (record.Count != _header.Length)
        {
            var column = record.Count > _header.Length ? null : _header[record.Count];
            throw new DatasetFormatException(
                $"{_source}, line {line}: {record.Count} fields where the header has {_header.Length}" + (column is null ? string.Empty : $" (column '{column}' is missing)"),
                (int)Math.Min(line, int.MaxValue),
                column);
        }
    }

    /// <summary>One record, quoted fields may span lines; null at the end. <paramref name="line"/> is where it starts.</summary>
    private List<string>? ReadRecord(out long line)
    {
        while (true)
        {
            line = _line + 1;
            var fields = new List<string>();
            var field = new StringBuilder();
            var quoted = false;
            var started = false;
            int ch;
            while (true)
            {
                ch = _text.Read();
                if (ch == -1)
                {
                    if (quoted)
                    {
                        throw new DatasetFormatException($"{_source}, line {line}: a quoted field is not closed before the end of the file", (int)Math.Min(line, int.MaxValue), null);
                    }

                    break;
                }

                started = true;
                if (quoted)
                {
                    if (ch == '"')
                    {
                        if (_text.Peek() == '"')
                        {
                            _text.Read();
                            field.Append('"');
                        }
                        else
                        {
                            quoted = false;
                        }
                    }
                    else
                    {
                        if (ch == '\n')
                        {
                            _line++;
                        }

                        field.Append((char)ch);
                    }
                }
                else if (ch == '"' && field.Length == 0)
                {
                    quoted = true;
                }
                else if (ch == _delimiter)
                {
                    fields.Add(field.ToString());
                    field.Clear();
                }
                else if (ch == '\n')
                {
                    break;
                }
                else if (ch != '\r')
                {
                    field.Append((char)ch);
                }
            }

            _line++;
            if (!started)
            {
                _ended = true;
                return null;
            }

            fields.Add(field.ToString());
            if (fields.Count == 1 && fields[0].Length == 0)
            {
                if (ch == -1)
                {
                    _ended = true;
                    return null;
                }

                continue; // a blank line
            }

            if (ch == -1)
            {
                _ended = true;
            }

            return fields;
        }
    }

    private static string Shorten(string value) => value.Length <= 40 ? value : value[..40] + "…";
}
