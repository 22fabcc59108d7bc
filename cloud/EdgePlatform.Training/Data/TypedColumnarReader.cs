using System.Globalization;
using System.Text;

namespace EdgePlatform.Training.Data;

/// <summary>
/// The shared half of the typed formats (Parquet, Arrow IPC): the file is read a chunk (row
/// group, record batch) at a time into per-field numbers or strings, and batches are cut from
/// the chunk. String fields are categorical or text by their first chunk's sample; a field
/// overridden to another kind is converted (strings parsed as CSV cells are, numbers formatted).
/// </summary>
internal abstract class TypedColumnarReader : ITabularReader
{
    private readonly TabularReadOptions _options;
    private int[] _fieldToColumn = [];
    private ColumnKind[] _natural = [];

    // Per field: the file recorded the kind itself (this platform's Arrow writer does), so a string field is not inferred.
    private bool[] _declared = [];
    private TextCellParser? _fallback;
    private DataBatch? _batch;
    private int _chunkOffset;
    private long _rowsBefore;
    private readonly Queue<Chunk> _replay = new();

    protected TypedColumnarReader(TabularReadOptions options)
    {
        _options = options;
        Source = options.SourceName;
    }

    public DataSchema Schema { get; private set; } = new([]);

    protected string Source { get; }

    /// <summary>The fields of the current chunk: numbers (NaN: missing) for numeric, boolean and date-time fields, strings (null: missing) for string fields; null for a field not read.</summary>
    protected double[]?[] ChunkNumbers { get; private set; } = [];

    protected string?[]?[] ChunkStrings { get; private set; } = [];

    protected int ChunkRows { get; set; }

    /// <summary>Whether field <paramref name="field"/> is read (not ignored).</summary>
    protected bool IsRead(int field) => _fieldToColumn[field] >= 0;

    /// <summary>
    /// Settles the schema. <paramref name="natural"/> gives each field's kind from the file's
    /// types (<see cref="ColumnKind.Text"/> for strings, refined here from the sample of the first
    /// InferenceRows rows, unless <paramref name="kindRecorded"/>). Throws for fields whose type no kind fits unless they are ignored.
    /// </summary>
    protected void Initialize(
        IReadOnlyList<string> names,
        Func<int, ColumnKind> natural,
        Func<int, bool>? kindRecorded = null,
        Func<int, IReadOnlyList<string>?>? categories = null)
    {
        _declared = [.. Enumerable.Range(0, names.Count).Select(i => kindRecorded?.Invoke(i) ?? false)];
        _natural = new ColumnKind[names.Count];
        ChunkNumbers = new double[]?[names.Count];
        ChunkStrings = new string?[]?[names.Count];

        // Read every field that is not ignored.
        _fieldToColumn = new int[names.Count];
        for (var i = 0; i < names.Count; i++)
        {
            var ignored = _options.Overrides.TryGetValue(names[i], out var o) && o == ColumnKind.Ignore;
            _fieldToColumn[i] = ignored ? -1 : i;
            _natural[i] = ignored ? ColumnKind.Ignore : natural(i);
        }

        // String fields are categorical or text by the first InferenceRows rows, which may span
        // several chunks: those chunks are kept (copied) and replayed before reading on.
        var count = new int[names.Count];
        var distinct = new HashSet<string>?[names.Count];
        var sampled = 0;
        while (sampled < _options.InferenceRows && LoadChunk(CancellationToken.None))
        {
            var take = Math.Min(ChunkRows, _options.InferenceRows - sampled);
            for (var field = 0; field < names.Count; field++)
            {
                if (_natural[field] == ColumnKind.Text && !_declared[field] && ChunkStrings[field] is { } strings)
                {
                    var seen = distinct[field] ??= new HashSet<string>(StringComparer.Ordinal);
                    foreach (var value in strings.AsSpan(0, take))
                    {
                        if (value is not null)
                        {
                            count[field]++;
                            seen.Add(value);
                        }
                    }
                }
            }

            _replay.Enqueue(new Chunk(
                [.. ChunkNumbers.Select(a => a?[..ChunkRows])],
                [.. ChunkStrings.Select(a => a?[..ChunkRows])],
                ChunkRows));
            sampled += ChunkRows;
        }

        ChunkRows = 0;
        (Schema, _fieldToColumn) = SchemaResolver.Resolve(
            Source,
            names,
            i => _natural[i] == ColumnKind.Text && !_declared[i] ? TextCellParser.StringKind(count[i], distinct[i]?.Count ?? 0, _options) : _natural[i],
            _options,
            categories);

        var fallbackOptions = _options.WithSource(Source);
        fallbackOptions.DecimalSeparator = '.';
        _fallback = new TextCellParser(fallbackOptions, Schema) { LocationIsRow = true };
        _batch = new DataBatch(Schema, _options.BatchSize);
    }

    /// <summary>Loads the next chunk into <see cref="ChunkNumbers"/>/<see cref="ChunkStrings"/>; false at the end.</summary>
    protected abstract bool LoadChunk(CancellationToken cancellationToken);

    public DataBatch? ReadBatch(CancellationToken cancellationToken = default)
    {
        var batch = _batch!;
        while (_chunkOffset >= ChunkRows)
        {
            _rowsBefore += ChunkRows;
            _chunkOffset = 0;
            ChunkRows = 0;
            if (_replay.TryDequeue(out var chunk))
            {
                ChunkNumbers = chunk.Numbers;
                ChunkStrings = chunk.Strings;
                ChunkRows = chunk.Rows;
            }
            else if (!LoadChunk(cancellationToken))
            {
                return null;
            }
        }

        var count = Math.Min(batch.Capacity, ChunkRows - _chunkOffset);
        var firstRow = _rowsBefore + _chunkOffset + 1;
        for (var field = 0; field < _fieldToColumn.Length; field++)
        {
            var column = _fieldToColumn[field];
            if (column >= 0)
            {
                Copy(batch, field, column, count, firstRow);
            }
        }

        batch.RowCount = count;
        batch.FirstLine = firstRow;
        _chunkOffset += count;
        return batch;
    }

    public abstract void Dispose();

    private void Copy(DataBatch batch, int field, int column, int count, long firstRow)
    {
        var target = Schema.Columns[column].Kind;
        var natural = _natural[field];
        var numbers = ChunkNumbers[field];
        var strings = ChunkStrings[field];
        if (numbers is not null && target.IsNumeric())
        {
            var destination = batch.Numbers[column]!;
            numbers.AsSpan(_chunkOffset, count).CopyTo(destination);
            if (target == ColumnKind.Boolean && natural != ColumnKind.Boolean)
            {
                for (var i = 0; i < count; i++)
                {
                    if (!double.IsNaN(destination[i]) && destination[i] is not (0 or 1))
                    {
                        throw DataErrors.AtRow(Source, firstRow + i, Schema.Columns[column].Name, $"{destination[i].ToString("R", CultureInfo.InvariantCulture)} is not 0 or 1, but the column is overridden to boolean.");
                    }
                }
            }
        }
        else if (strings is not null && !target.IsNumeric())
        {
            Array.Copy(strings, _chunkOffset, batch.Strings[column]!, 0, count);
        }
        else if (numbers is not null)
        {
            var destination = batch.Strings[column]!;
            for (var i = 0; i < count; i++)
            {
                destination[i] = FormatNumber(numbers[_chunkOffset + i], natural);
            }
        }
        else
        {
            for (var i = 0; i < count; i++)
            {
                var value = strings![_chunkOffset + i];
                _fallback!.Store(batch, column, i, value is null ? default : Encoding.UTF8.GetBytes(value), value is null, firstRow + i);
            }
        }
    }

    private static string? FormatNumber(double value, ColumnKind natural) =>
        double.IsNaN(value) ? null
        : natural == ColumnKind.Boolean ? (value != 0 ? "true" : "false")
        : natural == ColumnKind.DateTime ? FormatDateTime(value)
        : value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Seconds since the epoch as ISO-8601 UTC, the form CSV output and text conversions use.</summary>
    internal static string FormatDateTime(double secondsSinceEpoch) =>
        DateTimeOffset.UnixEpoch.AddTicks((long)Math.Round(secondsSinceEpoch * TimeSpan.TicksPerSecond)).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    /// <summary>Makes sure the chunk arrays for <paramref name="field"/> hold at least <paramref name="rows"/> values.</summary>
    protected double[] NumbersFor(int field, int rows)
    {
        var array = ChunkNumbers[field];
        if (array is null || array.Length < rows)
        {
            ChunkNumbers[field] = array = new double[rows];
        }

        return array;
    }

    protected string?[] StringsFor(int field, int rows)
    {
        var array = ChunkStrings[field];
        if (array is null || array.Length < rows)
        {
            ChunkStrings[field] = array = new string?[rows];
        }

        return array;
    }

    private sealed record Chunk(double[]?[] Numbers, string?[]?[] Strings, int Rows);
}
