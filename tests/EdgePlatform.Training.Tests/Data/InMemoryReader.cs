using EdgePlatform.Training.Data;

namespace EdgePlatform.Training.Tests.Data;

/// <summary>Streams columns held in memory as batches, as a file reader would; numbers for numeric kinds (NaN missing), strings otherwise (null missing).</summary>
internal sealed class InMemoryReader(DataSchema schema, IReadOnlyList<object?[]> rows, int batchSize = 64) : ITabularReader
{
    private int _next;

    public DataSchema Schema { get; } = schema;

    public DataBatch? ReadBatch(CancellationToken cancellationToken = default)
    {
        if (_next >= rows.Count)
        {
            return null;
        }

        var batch = new DataBatch(Schema, batchSize) { FirstLine = _next + 2 };
        var count = Math.Min(batchSize, rows.Count - _next);
        for (var r = 0; r < count; r++)
        {
            var row = rows[_next + r];
            for (var c = 0; c < Schema.Columns.Count; c++)
            {
                if (batch.Numbers[c] is { } numbers)
                {
                    numbers[r] = row[c] is double value ? value : double.NaN;
                }
                else
                {
                    batch.Strings[c]![r] = (string?)row[c];
                }
            }
        }

        batch.RowCount = count;
        _next += count;
        return batch;
    }

    public void Dispose()
    {
    }
}
