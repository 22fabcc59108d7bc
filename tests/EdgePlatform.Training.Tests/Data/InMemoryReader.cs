using EdgePlatform.Training.Data;

namespace EdgePlatform.Training.Tests.Data;

/// <summary>Rows held in memory, streamed in small batches through one reused <see cref="DataBatch"/>, as a file reader does.</summary>
internal sealed class InMemoryReader : ITabularReader
{
    private readonly IReadOnlyList<object?[]> _rows;
    private readonly DataBatch _batch;
    private int _next;

    public InMemoryReader(DataSchema schema, IReadOnlyList<object?[]> rows, int batchSize = 100)
    {
        Schema = schema;
        _rows = rows;
        _batch = new DataBatch(schema, batchSize);
    }

    public DataSchema Schema { get; }

    public int BatchesRead { get; private set; }

    public static DataSchema SchemaOf(params (string Name, ColumnKind Kind)[] columns) =>
        new([.. columns.Select(c => new DataColumn(c.Name, c.Kind))]);

    public DataBatch? ReadBatch(CancellationToken cancellationToken = default)
    {
        if (_next >= _rows.Count)
        {
            return null;
        }

        var count = Math.Min(_batch.Capacity, _rows.Count - _next);
        for (var r = 0; r < count; r++)
        {
            var row = _rows[_next + r];
            for (var c = 0; c < Schema.Columns.Count; c++)
            {
                if (_batch.Numbers[c] is { } numbers)
                {
                    numbers[r] = row[c] is double value ? value : double.NaN;
                }
                else
                {
                    _batch.Strings[c]![r] = (string?)row[c];
                }
            }
        }

        _batch.RowCount = count;
        _batch.FirstLine = _next + 2;
        _next += count;
        BatchesRead++;
        return _batch;
    }

    public void Dispose()
    {
    }
}
