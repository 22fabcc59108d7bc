using System.Text.Json;

namespace EdgePlatform.Training.Data;

/// <summary>
/// JSON lines: one flat object per line. Numbers, strings, booleans and nulls; a key absent from
/// a line is a missing value. The columns are the keys of the first
/// <see cref="TabularReadOptions.InferenceRows"/> lines, in the order first seen; a key that
/// first appears after them is an error naming its line, so no data is silently dropped.
/// </summary>
internal sealed class JsonLinesReader : ITabularReader
{
    private static readonly byte[] TrueText = "true"u8.ToArray();
    private static readonly byte[] FalseText = "false"u8.ToArray();

    private readonly Stream _stream;
    private readonly Utf8LineReader _lines;
    private readonly string _source;
    private readonly TabularReadOptions _options;
    private readonly List<string> _keys = [];
    private readonly Dictionary<string, int> _keyIndex = new(StringComparer.Ordinal);
    private readonly Queue<SampleLine> _sample = new();
    private readonly int[] _fieldToColumn;
    private readonly TextCellParser _parser;
    private readonly DataBatch _batch;
    private readonly bool[] _seen;
    private byte[] _scratch = new byte[256];
    private char[] _keyChars = new char[128];

    public JsonLinesReader(Stream stream, TabularReadOptions options)
    {
        _stream = stream;
        _options = options;
        _source = options.SourceName;
        _lines = new Utf8LineReader(stream);

        while (_sample.Count < options.InferenceRows && NextLine(out var line))
        {
            var values = new Dictionary<int, byte[]?>();
            ParseObject(line, (key, value, isNull) =>
            {
                if (!_keyIndex.TryGetValue(key, out var index))
                {
                    index = _keys.Count;
                    _keys.Add(key);
                    _keyIndex[key] = index;
                }

                values[index] = isNull ? null : value.ToArray();
            });
            _sample.Enqueue(new SampleLine(_lines.LineNumber, values));
        }

        if (_sample.Count == 0)
        {
            throw DataErrors.File(_source, "the file is empty; JSON lines needs one object per line.");
        }

        var missing = new MissingValues(options.MissingTokens);
        var numbers = TextCellParser.NumberFormat('.');
        (Schema, _fieldToColumn) = SchemaResolver.Resolve(
            _source,
            _keys,
            key => TextCellParser.Infer(
                _sample.Select(s => s.Values.TryGetValue(key, out var v) && v is not null && !missing.Matches(v) ? v : null),
                options,
                numbers),
            options);

        // JSON numbers always use a '.'; the decimal-separator option is for CSV.
        var jsonOptions = options.WithSource(_source);
        jsonOptions.DecimalSeparator = '.';
        _parser = new TextCellParser(jsonOptions, Schema);
        _batch = new DataBatch(Schema, options.BatchSize);
        _seen = new bool[Schema.Columns.Count];
    }

    public DataSchema Schema { get; }

    public DataBatch? ReadBatch(CancellationToken cancellationToken = default)
    {
        var batch = _batch;
        var row = 0;
        while (row < batch.Capacity)
        {
            if ((row & 1023) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            Array.Clear(_seen);
            long lineNumber;
            if (_sample.TryDequeue(out var sampled))
            {
                lineNumber = sampled.Line;
                foreach (var (key, value) in sampled.Values)
                {
                    StoreField(batch, row, key, value, value is null, lineNumber);
                }
            }
            else if (NextLine(out var line))
            {
                lineNumber = _lines.LineNumber;
                var r = row;
                ParseObject(line, (key, value, isNull) =>
                {
                    if (!_keyIndex.TryGetValue(key, out var index))
                    {
                        throw DataErrors.AtLine(_source, lineNumber, key, $"the key '{key}' does not appear in the first {_options.InferenceRows} lines, from which the columns were taken; raise the number of inference rows or remove the key.");
                    }

                    StoreField(batch, r, index, value, isNull, lineNumber);
                });
            }
            else
            {
                break;
            }

            if (row == 0)
            {
                batch.FirstLine = lineNumber;
            }

            for (var column = 0; column < _seen.Length; column++)
            {
                if (!_seen[column])
                {
                    _parser.Store(batch, column, row, default, isNull: true, lineNumber);
                }
            }

            row++;
        }

        batch.RowCount = row;
        return row == 0 ? null : batch;
    }

    public void Dispose() => _stream.Dispose();

    private void StoreField(DataBatch batch, int row, int field, ReadOnlySpan<byte> value, bool isNull, long line)
    {
        var column = _fieldToColumn[field];
        if (column >= 0)
        {
            _seen[column] = true;
            _parser.Store(batch, column, row, value, isNull, line);
        }
    }

    private bool NextLine(out ReadOnlySpan<byte> line)
    {
        while (_lines.TryReadLine(out line))
        {
            if (!line.Trim(" \t\r"u8).IsEmpty)
            {
                return true;
            }
        }

        return false;
    }

    private delegate void FieldHandler(string key, ReadOnlySpan<byte> value, bool isNull);

    private void ParseObject(ReadOnlySpan<byte> line, FieldHandler handle)
    {
        var lineNumber = _lines.LineNumber;
        var reader = new Utf8JsonReader(line, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        string? key = null;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw DataErrors.AtLine(_source, lineNumber, null, "each line must be one JSON object ({\"name\": value, ...}).");
            }

            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                key = ReadKey(ref reader);
                reader.Read();
                switch (reader.TokenType)
                {
                    case JsonTokenType.Number:
                        handle(key, reader.ValueSpan, isNull: false);
                        break;
                    case JsonTokenType.String:
                        handle(key, Unescaped(ref reader), isNull: false);
                        break;
                    case JsonTokenType.True:
                        handle(key, TrueText, isNull: false);
                        break;
                    case JsonTokenType.False:
                        handle(key, FalseText, isNull: false);
                        break;
                    case JsonTokenType.Null:
                        handle(key, default, isNull: true);
                        break;
                    default:
                        throw DataErrors.AtLine(_source, lineNumber, key, "nested objects and arrays are not supported; each value must be a number, string, boolean or null.");
                }
            }

            if (reader.Read())
            {
                throw DataErrors.AtLine(_source, lineNumber, null, "there is more after the object's closing brace; each line holds exactly one object.");
            }
        }
        catch (JsonException e)
        {
            throw DataErrors.AtLine(_source, lineNumber, key, $"not valid JSON: {e.Message}");
        }
    }

    private string ReadKey(ref Utf8JsonReader reader)
    {
        var length = reader.HasValueSequence ? (int)reader.ValueSequence.Length : reader.ValueSpan.Length;
        if (_keyChars.Length < length)
        {
            _keyChars = new char[length * 2];
        }

        var written = reader.CopyString(_keyChars);
        var key = _keyChars.AsSpan(0, written);
        return _keyIndex.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(key, out var known, out _) ? known : new string(key);
    }

    private ReadOnlySpan<byte> Unescaped(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped)
        {
            return reader.ValueSpan;
        }

        if (_scratch.Length < reader.ValueSpan.Length)
        {
            _scratch = new byte[reader.ValueSpan.Length * 2];
        }

        var written = reader.CopyString(_scratch);
        return _scratch.AsSpan(0, written);
    }

    private sealed record SampleLine(long Line, Dictionary<int, byte[]?> Values);
}
