namespace EdgePlatform.Training.Data;

/// <summary>
/// Streams a dataset in batches with bounded memory, whatever its format (CSV, TSV, Parquet,
/// Arrow IPC, ARFF, JSON lines). Bad input throws <see cref="DatasetFormatException"/> naming
/// the file, line (or record) and column.
/// </summary>
public interface ITabularReader : IDisposable
{
    /// <summary>The columns, after inference and the caller's overrides; known before the first batch.</summary>
    DataSchema Schema { get; }

    /// <summary>The next batch, or null at the end. The returned batch may be reused by the next call.</summary>
    DataBatch? ReadBatch(CancellationToken cancellationToken = default);
}
