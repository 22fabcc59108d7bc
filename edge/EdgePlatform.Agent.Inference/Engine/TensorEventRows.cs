namespace EdgePlatform.Agent.Inference.Engine;

/// <summary>
/// Rows given as one column of values per event field, such as the inputs of a v2 inference
/// request after they have been matched to fields. Every column must hold one value per row.
/// </summary>
public sealed class TensorEventRows : IEventRows
{
    private readonly IReadOnlyDictionary<string, float[]> _columns;
    private readonly string?[] _correlationIds;

    /// <param name="columns">Values per event field; all columns hold <paramref name="rowCount"/> values.</param>
    /// <param name="rowCount">Rows in the request.</param>
    /// <param name="correlationIds">One id per row, or null for none.</param>
    public TensorEventRows(IReadOnlyDictionary<string, float[]> columns, int rowCount, IReadOnlyList<string?>? correlationIds = null)
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentOutOfRangeException.ThrowIfNegative(rowCount);
        foreach (var (field, values) in columns)
        {
            if (values.Length != rowCount)
            {
                throw new ArgumentException($"field '{field}' holds {values.Length} values for {rowCount} rows", nameof(columns));
            }
        }

        _columns = columns;
        RowCount = rowCount;
        _correlationIds = correlationIds is null ? new string?[rowCount] : [.. correlationIds];
        if (_correlationIds.Length != rowCount)
        {
            throw new ArgumentException($"{_correlationIds.Length} correlation ids for {rowCount} rows", nameof(correlationIds));
        }
    }

    public int RowCount { get; }

    public string? Bind(int row, IReadOnlyList<string> fields, Span<float> features)
    {
        ArgumentNullException.ThrowIfNull(fields);
        for (var i = 0; i < fields.Count; i++)
        {
            if (!_columns.TryGetValue(fields[i], out var column))
            {
                throw new EventBindingException($"field '{fields[i]}' is missing");
            }

            var value = column[row];
            features[i] = float.IsFinite(value) ? value : throw new EventBindingException($"field '{fields[i]}' is not finite as a 32-bit float");
        }

        return _correlationIds[row];
    }

    public bool TryHashKey(int row, string field, out uint hash)
    {
        hash = 0;
        if (string.Equals(field, Contracts.EventFields.CorrelationId, StringComparison.Ordinal) && _correlationIds[row] is { } id)
        {
            hash = Contracts.ArmBuckets.Hash(id);
            return true;
        }

        return false;
    }
}
