using Apache.Arrow;
using Apache.Arrow.Types;

namespace EdgePlatform.Contracts;

/// <summary>
/// Arrow IPC stream encoding of <see cref="PerfRecord"/> batches, published on
/// <c>devices/{id}/telemetry/perf</c>. Like <see cref="TelemetryArrow"/>, the schema names its
/// id and the sending device in its metadata.
/// </summary>
public static class PerfArrow
{
    public const string SchemaId = "edgeplatform.telemetry.perf.v1";

    /// <summary>The first four bytes of HdrHistogram's compressed V2 encoding, big-endian.</summary>
    private static readonly byte[] HistogramCookie = [0x1c, 0x84, 0x93, 0x14];

    private static readonly ColumnSpec[] Columns =
    [
        new("sequence", Int64Type.Default, false),
        new("timestamp", TelemetryColumns.TimestampUtcMs, false),
        new("interval_ms", Int64Type.Default, false),
        new("model_name", StringType.Default, false),
        new("model_version", StringType.Default, false),
        new("manifest_digest", StringType.Default, true),
        new("arm", StringType.Default, false),
        new("events_in", Int64Type.Default, false),
        new("events_scored", Int64Type.Default, false),
        new("errors", Int64Type.Default, false),
        new("dead_lettered", Int64Type.Default, false),
        new("dropped", Int64Type.Default, false),
        new("latency_p50_ms", DoubleType.Default, false),
        new("latency_p95_ms", DoubleType.Default, false),
        new("latency_p99_ms", DoubleType.Default, false),
        new("latency_max_ms", DoubleType.Default, false),
        new("latency_mean_ms", DoubleType.Default, false),
        new("latency_histogram", BinaryType.Default, false),
        new("batches", Int64Type.Default, false),
        new("batch_size_mean", DoubleType.Default, false),
        new("batch_size_max", Int64Type.Default, false),
        ColumnSpec.List("batch_size_histogram", Int64Type.Default),
    ];

    public static Schema CreateSchema(string deviceId) => TelemetryColumns.CreateSchema(Columns, SchemaId, deviceId);

    public static byte[] Serialize(string deviceId, IReadOnlyList<PerfRecord> records)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        ArgumentNullException.ThrowIfNull(records);

        IArrowArray[] arrays =
        [
            TelemetryColumns.Int64(records, r => r.Sequence),
            TelemetryColumns.Timestamp(records, r => r.Timestamp),
            TelemetryColumns.Int64(records, r => r.IntervalMs),
            TelemetryColumns.String(records, r => r.ModelName),
            TelemetryColumns.String(records, r => r.ModelVersion),
            TelemetryColumns.String(records, r => r.ManifestDigest),
            TelemetryColumns.String(records, r => r.Arm),
            TelemetryColumns.Int64(records, r => r.EventsIn),
            TelemetryColumns.Int64(records, r => r.EventsScored),
            TelemetryColumns.Int64(records, r => r.Errors),
            TelemetryColumns.Int64(records, r => r.DeadLettered),
            TelemetryColumns.Int64(records, r => r.Dropped),
            TelemetryColumns.Double(records, r => r.LatencyP50Ms),
            TelemetryColumns.Double(records, r => r.LatencyP95Ms),
            TelemetryColumns.Double(records, r => r.LatencyP99Ms),
            TelemetryColumns.Double(records, r => r.LatencyMaxMs),
            TelemetryColumns.Double(records, r => r.LatencyMeanMs),
            TelemetryColumns.Binary(records, r => r.LatencyHistogram),
            TelemetryColumns.Int64(records, r => r.Batches),
            TelemetryColumns.Double(records, r => r.BatchSizeMean),
            TelemetryColumns.Int64(records, r => r.BatchSizeMax),
            TelemetryColumns.Int64List(records, r => r.BatchSizeHistogram),
        ];

        return TelemetryColumns.Write(CreateSchema(deviceId), arrays, records.Count);
    }

    /// <summary>
    /// Decodes a perf stream. Throws <see cref="TelemetryFormatException"/> naming the column and
    /// the problem when the payload is not an Arrow stream of this schema.
    /// </summary>
    public static PerfBatch Deserialize(ReadOnlyMemory<byte> payload)
    {
        var (deviceId, records) = TelemetryColumns.Read<PerfRecord>(payload, SchemaId, Columns, ReadBatch);
        return new PerfBatch(deviceId, records);
    }

    private static void ReadBatch(RecordBatch batch, List<PerfRecord> records)
    {
        var sequence = TelemetryColumns.Column<Int64Array>(batch, "sequence");
        var timestamp = TelemetryColumns.Column<TimestampArray>(batch, "timestamp");
        var intervalMs = TelemetryColumns.Column<Int64Array>(batch, "interval_ms");
        var modelName = TelemetryColumns.Column<StringArray>(batch, "model_name");
        var modelVersion = TelemetryColumns.Column<StringArray>(batch, "model_version");
        var manifestDigest = TelemetryColumns.Column<StringArray>(batch, "manifest_digest");
        var arm = TelemetryColumns.Column<StringArray>(batch, "arm");
        var eventsIn = TelemetryColumns.Column<Int64Array>(batch, "events_in");
        var eventsScored = TelemetryColumns.Column<Int64Array>(batch, "events_scored");
        var errors = TelemetryColumns.Column<Int64Array>(batch, "errors");
        var deadLettered = TelemetryColumns.Column<Int64Array>(batch, "dead_lettered");
        var dropped = TelemetryColumns.Column<Int64Array>(batch, "dropped");
        var p50 = TelemetryColumns.Column<DoubleArray>(batch, "latency_p50_ms");
        var p95 = TelemetryColumns.Column<DoubleArray>(batch, "latency_p95_ms");
        var p99 = TelemetryColumns.Column<DoubleArray>(batch, "latency_p99_ms");
        var max = TelemetryColumns.Column<DoubleArray>(batch, "latency_max_ms");
        var mean = TelemetryColumns.Column<DoubleArray>(batch, "latency_mean_ms");
        var histogram = TelemetryColumns.Column<BinaryArray>(batch, "latency_histogram");
        var batches = TelemetryColumns.Column<Int64Array>(batch, "batches");
        var batchMean = TelemetryColumns.Column<DoubleArray>(batch, "batch_size_mean");
        var batchMax = TelemetryColumns.Column<Int64Array>(batch, "batch_size_max");
        var batchHistogram = TelemetryColumns.Column<ListArray>(batch, "batch_size_histogram");
        TelemetryColumns.ValidateOffsets(modelName, "model_name");
        TelemetryColumns.ValidateOffsets(modelVersion, "model_version");
        TelemetryColumns.ValidateOffsets(manifestDigest, "manifest_digest");
        TelemetryColumns.ValidateOffsets(arm, "arm");
        TelemetryColumns.ValidateOffsets(histogram, "latency_histogram");
        TelemetryColumns.ValidateList(batchHistogram, "batch_size_histogram");

        for (var i = 0; i < batch.Length; i++)
        {
            records.Add(new PerfRecord(
                TelemetryColumns.Required(sequence.GetValue(i), "sequence"),
                timestamp.GetTimestamp(i) ?? throw new TelemetryFormatException("column 'timestamp' has a null"),
                TelemetryColumns.Required(intervalMs.GetValue(i), "interval_ms"),
                TelemetryColumns.RequiredString(modelName, i, "model_name"),
                TelemetryColumns.RequiredString(modelVersion, i, "model_version"),
                manifestDigest.GetString(i),
                TelemetryColumns.RequiredString(arm, i, "arm"),
                TelemetryColumns.Required(eventsIn.GetValue(i), "events_in"),
                TelemetryColumns.Required(eventsScored.GetValue(i), "events_scored"),
                TelemetryColumns.Required(errors.GetValue(i), "errors"),
                TelemetryColumns.Required(deadLettered.GetValue(i), "dead_lettered"),
                TelemetryColumns.Required(dropped.GetValue(i), "dropped"),
                TelemetryColumns.Required(p50.GetValue(i), "latency_p50_ms"),
                TelemetryColumns.Required(p95.GetValue(i), "latency_p95_ms"),
                TelemetryColumns.Required(p99.GetValue(i), "latency_p99_ms"),
                TelemetryColumns.Required(max.GetValue(i), "latency_max_ms"),
                TelemetryColumns.Required(mean.GetValue(i), "latency_mean_ms"),
                Histogram(histogram, i),
                TelemetryColumns.Required(batches.GetValue(i), "batches"),
                TelemetryColumns.Required(batchMean.GetValue(i), "batch_size_mean"),
                TelemetryColumns.Required(batchMax.GetValue(i), "batch_size_max"),
                batchHistogram.IsNull(i)
                    ? throw new TelemetryFormatException("column 'batch_size_histogram' has a null")
                    : TelemetryColumns.Int64Items(batchHistogram, i, "batch_size_histogram")));
        }
    }

    private static byte[] Histogram(BinaryArray histogram, int row)
    {
        if (histogram.IsNull(row))
        {
            throw new TelemetryFormatException("column 'latency_histogram' has a null");
        }

        var bytes = histogram.GetBytes(row);
        if (bytes.Length > 0 && (bytes.Length < HistogramCookie.Length || !bytes[..HistogramCookie.Length].SequenceEqual(HistogramCookie)))
        {
            throw new TelemetryFormatException($"column 'latency_histogram' is not an HdrHistogram in the compressed V2 encoding (row {row})");
        }

        return bytes.ToArray();
    }
}

public sealed record PerfBatch(string DeviceId, IReadOnlyList<PerfRecord> Records);
