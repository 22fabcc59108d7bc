using System.Text;

namespace EdgePlatform.Training.Data;

/// <summary>
/// CSV and TSV: a header row, then one record per line, RFC 4180 quoting (a quoted field may
/// hold the delimiter, doubled quotes and line breaks). Parses UTF-8 bytes in place from a
/// buffer that holds a few records at a time; only string cells become strings.
/// </summary>
internal sealed class DelimitedTextReader : ITabularReader
{
    private const int InitialBufferSize = 1 << 20;
    private const byte Quote = (byte)'"';
    private static readonly byte[] Utf8Bom = [0xEF, 0xBB, 0xBF];

    private readonly Stream _stream;
    private readonly string _source;
    private readonly TabularReadOptions _options;
    private readonly byte _delimiter;
    private readonly string[] _names;
    private readonly int[] _fieldToColumn;
    private readonly TextCellParser _parser;
    private readonly Queue<SampleRecord> _sample;
    private readonly DataBatch _batch;

    private byte[] _buffer = new byte[InitialBufferSize];
    private int _start;
    private int _end;
    private bool _eof;
    private long _line = 1;

    // The fields of the record just parsed: offsets into _buffer, lengths, and whether a quoted field holds doubled quotes.
    private int[] _fieldStarts = new int[64];
    private int[] _fieldLengths = new int[64];
    private bool[] _fieldEscaped = new bool[64];
    private bool[] _fieldQuoted = new bool[64];
    private int _fieldCount;
    private long _recordLine;
    private byte[] _unescaped = new byte[256];

    // The records of the batch being read, split but not yet converted: per row, per field.
    private readonly int[] _pendingStarts;
    private readonly int[] _pendingLengths;
    private readonly bool[] _pendingEscaped;
    private readonly long[] _pendingLines;
    private readonly int[] _readFields;

    public DelimitedTextReader(Stream stream, TabularReadOptions options, byte delimiter)
    {
        _stream = stream;
        _options = options;
        _source = options.SourceName;
        _delimiter = delimiter;

        Fill();
        if (_end - _start >= 3 && _buffer.AsSpan(_start, 3).SequenceEqual(Utf8Bom))
        {
            _start += 3;
        }

        if (!NextRecord())
        {
            throw DataErrors.File(_source, "the file is empty; a header row naming the columns is expected.");
        }

        _names = new string[_fieldCount];
        for (var i = 0; i < _fieldCount; i++)
        {
            var name = Encoding.UTF8.GetString(Field(i)).Trim();
            _names[i] = name.Length > 0 ? name : $"column_{i + 1}";
        }

        // Inference needs the first rows before the first batch: keep them as bytes and replay them.
        _sample = new Queue<SampleRecord>();
        while (_sample.Count < options.InferenceRows && NextRecord())
        {
            CheckWidth();
            var values = new byte[_fieldCount][];
            for (var i = 0; i < _fieldCount; i++)
            {
                values[i] = Field(i).ToArray();
            }

            _sample.Enqueue(new SampleRecord(_recordLine, values));
        }

        var missing = new MissingValues(options.MissingTokens);
        var numbers = TextCellParser.NumberFormat(options.DecimalSeparator);
        (Schema, _fieldToColumn) = SchemaResolver.Resolve(
            _source,
            _names,
            field => TextCellParser.Infer(_sample.Select(r => missing.Matches(r.Values[field]) ? null : r.Values[field]), options, numbers),
            options);
        _parser = new TextCellParser(options, Schema);
        _batch = new DataBatch(Schema, options.BatchSize);
        _pendingStarts = new int[options.BatchSize * _names.Length];
        _pendingLengths = new int[options.BatchSize * _names.Length];
        _pendingEscaped = new bool[options.BatchSize * _names.Length];
        _pendingLines = new long[options.BatchSize];
        _readFields = [.. Enumerable.Range(0, _names.Length).Where(f => _fieldToColumn[f] >= 0)];
    }

    public DataSchema Schema { get; }

    public DataBatch? ReadBatch(CancellationToken cancellationToken = default)
    {
        var batch = _batch;
        var row = 0;
        while (row < batch.Capacity && _sample.TryDequeue(out var record))
        {
            if (row == 0)
            {
                batch.FirstLine = record.Line;
            }

            for (var field = 0; field < record.Values.Length; field++)
            {
                var column = _fieldToColumn[field];
                if (column >= 0)
                {
                    _parser.Store(batch, column, row, record.Values[field], isNull: false, record.Line);
                }
            }

            row++;
        }

        // Split records into field offsets until the batch is full or the buffer runs out, then
        // convert what was split, column by column in parallel, before the buffer moves.
        var pendingFrom = row;
        while (row < batch.Capacity)
        {
            if ((row & 1023) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            var result = TryParseRecord();
            if (result == ParseResult.NeedMore)
            {
                ConvertPending(batch, pendingFrom, row);
                pendingFrom = row;
                Compact();
                Fill();
                continue;
            }

            if (result == ParseResult.End)
            {
                break;
            }

            if (_fieldCount == 1 && _fieldLengths[0] == 0 && !_fieldQuoted[0])
            {
                continue;
            }

            if (_fieldCount != _names.Length)
            {
                // Rows before this one are reported first, as a sequential read would.
                ConvertPending(batch, pendingFrom, row);
                CheckWidth();
            }

            if (row == 0)
            {
                batch.FirstLine = _recordLine;
            }

            var width = _names.Length;
            _fieldStarts.AsSpan(0, width).CopyTo(_pendingStarts.AsSpan(row * width));
            _fieldLengths.AsSpan(0, width).CopyTo(_pendingLengths.AsSpan(row * width));
            _fieldEscaped.AsSpan(0, width).CopyTo(_pendingEscaped.AsSpan(row * width));
            _pendingLines[row] = _recordLine;
            row++;
        }

        ConvertPending(batch, pendingFrom, row);
        batch.RowCount = row;
        return row == 0 ? null : batch;
    }

    public void Dispose() => _stream.Dispose();

    /// <summary>Below this many cells a batch is converted on the calling thread: handing work to the pool costs more than it saves.</summary>
    private const int ParallelCells = 16_384;

    private void ConvertPending(DataBatch batch, int fromRow, int toRow)
    {
        if (toRow <= fromRow)
        {
            return;
        }

        var columns = _readFields.Length;
        var errors = new DatasetFormatException?[columns];
        var errorRows = new int[columns];
        if (Environment.ProcessorCount > 1 && (toRow - fromRow) * columns >= ParallelCells)
        {
            Parallel.For(0, columns, i => ConvertField(batch, _readFields[i], fromRow, toRow, ref errors[i], ref errorRows[i]));
        }
        else
        {
            for (var i = 0; i < columns; i++)
            {
                ConvertField(batch, _readFields[i], fromRow, toRow, ref errors[i], ref errorRows[i]);
            }
        }

        // The error a sequential reader would have met first: earliest row, then leftmost column.
        DatasetFormatException? first = null;
        var firstRow = int.MaxValue;
        for (var i = 0; i < columns; i++)
        {
            if (errors[i] is { } error && errorRows[i] < firstRow)
            {
                first = error;
                firstRow = errorRows[i];
            }
        }

        if (first is not null)
        {
            throw first;
        }
    }

    private void ConvertField(DataBatch batch, int field, int fromRow, int toRow, ref DatasetFormatException? error, ref int errorRow)
    {
        var width = _names.Length;
        var column = _fieldToColumn[field];
        byte[]? unescaped = null;
        for (var row = fromRow; row < toRow; row++)
        {
            var at = (row * width) + field;
            ReadOnlySpan<byte> value = _buffer.AsSpan(_pendingStarts[at], _pendingLengths[at]);
            if (_pendingEscaped[at])
            {
                unescaped ??= new byte[value.Length];
                if (unescaped.Length < value.Length)
                {
                    unescaped = new byte[value.Length * 2];
                }

                value = Unescape(value, unescaped);
            }

            try
            {
                _parser.Store(batch, column, row, value, isNull: false, _pendingLines[row]);
            }
            catch (DatasetFormatException e)
            {
                error = e;
                errorRow = row;
                return;
            }
        }
    }

    private void CheckWidth()
    {
        if (_fieldCount == _names.Length)
        {
            return;
        }

        if (_fieldCount < _names.Length)
        {
            throw DataErrors.AtLine(_source, _recordLine, _names[_fieldCount], $"the row has {_fieldCount} fields but the header has {_names.Length}; the row ends before this column (a missing value still needs its delimiter).");
        }

        throw DataErrors.AtLine(_source, _recordLine, $"field {_names.Length + 1}", $"the row has {_fieldCount} fields but the header has {_names.Length}; a field that holds the delimiter must be quoted.");
    }

    /// <summary>The field's content, quotes removed and doubled quotes made single.</summary>
    private ReadOnlySpan<byte> Field(int index)
    {
        var raw = _buffer.AsSpan(_fieldStarts[index], _fieldLengths[index]);
        if (!_fieldEscaped[index])
        {
            return raw;
        }

        if (_unescaped.Length < raw.Length)
        {
            _unescaped = new byte[raw.Length * 2];
        }

        return Unescape(raw, _unescaped);
    }

    /// <summary>Copies a quoted field's content with each doubled quote made single.</summary>
    private static ReadOnlySpan<byte> Unescape(ReadOnlySpan<byte> raw, byte[] destination)
    {
        var length = 0;
        for (var i = 0; i < raw.Length; i++)
        {
            destination[length++] = raw[i];
            if (raw[i] == Quote)
            {
                i++;
            }
        }

        return destination.AsSpan(0, length);
    }

    /// <summary>Parses the next non-blank record into the field arrays; false at the end of the file.</summary>
    private bool NextRecord()
    {
        while (true)
        {
            var result = TryParseRecord();
            if (result == ParseResult.Record)
            {
                if (_fieldCount == 1 && _fieldLengths[0] == 0 && !_fieldQuoted[0])
                {
                    continue;
                }

                return true;
            }

            if (result == ParseResult.End)
            {
                return false;
            }

            // The record runs past the buffered bytes: keep its start, read more, parse it again.
            Compact();
            Fill();
        }
    }

    private enum ParseResult
    {
        Record,
        NeedMore,
        End,
    }

    private ParseResult TryParseRecord()
    {
        var buffer = _buffer;
        var end = _end;
        var pos = _start;
        var lines = 0;
        _fieldCount = 0;
        if (pos >= end && _eof)
        {
            return ParseResult.End;
        }

        while (true)
        {
            int fieldStart, fieldLength, next;
            var escaped = false;
            if (pos < end && buffer[pos] == Quote)
            {
                fieldStart = pos + 1;
                var scan = fieldStart;
                while (true)
                {
                    var at = buffer.AsSpan(scan, end - scan).IndexOf(Quote);
                    if (at < 0)
                    {
                        if (_eof)
                        {
                            throw DataErrors.AtLine(_source, _line, ColumnName(_fieldCount), "a quoted field is never closed: its opening quote has no closing quote before the end of the file.");
                        }

                        return ParseResult.NeedMore;
                    }

                    lines += buffer.AsSpan(scan, at).Count((byte)'\n');
                    var quote = scan + at;
                    if (quote + 1 >= end && !_eof)
                    {
                        return ParseResult.NeedMore;
                    }

                    if (quote + 1 < end && buffer[quote + 1] == Quote)
                    {
                        escaped = true;
                        scan = quote + 2;
                        continue;
                    }

                    fieldLength = quote - fieldStart;
                    next = quote + 1;
                    break;
                }

                if (next < end && buffer[next] != _delimiter && buffer[next] != '\n' && buffer[next] != '\r')
                {
                    throw DataErrors.AtLine(_source, _line + lines, ColumnName(_fieldCount), "a closing quote is followed by other characters; inside a quoted field a quote is written twice (\"\").");
                }
            }
            else
            {
                fieldStart = pos;
                var at = buffer.AsSpan(pos, end - pos).IndexOfAny(_delimiter, (byte)'\n', (byte)'\r');
                if (at < 0)
                {
                    if (!_eof)
                    {
                        return ParseResult.NeedMore;
                    }

                    at = end - pos;
                }

                fieldLength = at;
                next = pos + at;
            }

            AddField(fieldStart, fieldLength, quoted: fieldStart != pos, escaped);
            if (next >= end)
            {
                // Only at the end of the file: the last record has no line break.
                _start = end;
                _recordLine = _line;
                _line += lines;
                return ParseResult.Record;
            }

            var terminator = buffer[next];
            if (terminator == _delimiter)
            {
                pos = next + 1;
                if (pos >= end)
                {
                    if (!_eof)
                    {
                        return ParseResult.NeedMore;
                    }

                    AddField(pos, 0, quoted: false, escaped: false);
                    _start = end;
                    _recordLine = _line;
                    _line += lines;
                    return ParseResult.Record;
                }

                continue;
            }

            if (terminator == '\r')
            {
                if (next + 1 >= end && !_eof)
                {
                    return ParseResult.NeedMore;
                }

                next += next + 1 < end && buffer[next + 1] == '\n' ? 2 : 1;
            }
            else
            {
                next += 1;
            }

            _start = next;
            _recordLine = _line;
            _line += lines + 1;
            return ParseResult.Record;
        }
    }

    private string ColumnName(int field) =>
        _names is not null && field < _names.Length ? _names[field] : $"field {field + 1}";

    private void AddField(int start, int length, bool quoted, bool escaped)
    {
        if (_fieldCount == _fieldStarts.Length)
        {
            Array.Resize(ref _fieldStarts, _fieldCount * 2);
            Array.Resize(ref _fieldLengths, _fieldCount * 2);
            Array.Resize(ref _fieldEscaped, _fieldCount * 2);
            Array.Resize(ref _fieldQuoted, _fieldCount * 2);
        }

        _fieldStarts[_fieldCount] = start;
        _fieldLengths[_fieldCount] = length;
        _fieldEscaped[_fieldCount] = escaped;
        _fieldQuoted[_fieldCount] = quoted;
        _fieldCount++;
    }

    private void Compact()
    {
        var pending = _end - _start;
        if (_start == 0 && pending == _buffer.Length)
        {
            // One record longer than the buffer: grow to hold it (memory stays bounded by the longest record).
            Array.Resize(ref _buffer, _buffer.Length * 2);
            return;
        }

        Buffer.BlockCopy(_buffer, _start, _buffer, 0, pending);
        _start = 0;
        _end = pending;
    }

    private void Fill()
    {
        while (_end < _buffer.Length)
        {
            var read = _stream.Read(_buffer, _end, _buffer.Length - _end);
            if (read == 0)
            {
                _eof = true;
                return;
            }

            _end += read;
        }
    }

    private sealed record SampleRecord(long Line, byte[][] Values);
}
