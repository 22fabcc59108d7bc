using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;

namespace EdgePlatform.Contracts;

/// <summary>
/// Arrow IPC stream encoding of <see cref="TelemetryRecord"/> batches
/// (<see cref="MediaTypes.ArrowStream"/>). The schema carries the sending device's id in its
/// metadata so the cloud can refuse a batch published under another device's topic.
/// </summary>
public static class TelemetryArrow
{
    public const string SchemaId = "edgeplatform.telemetry.v1";
    public const string SchemaIdKey = "schema";
    public const string DeviceIdKey = "device_id";

    private static readonly TimestampType TimestampUtcMs = new(TimeUnit.Millisecond, "UTC");

    private static readonly (string Name, IArrowType Type, bool Nullable)[] Columns =
    [
        ("sequence", Int64Type.Default, false),
        ("timestamp", TimestampUtcMs, false),
        ("model_name", StringType.Default, true),
        ("model_version", StringType.Default, true),
        ("model_digest", StringType.Default, true),
        ("events_in", Int64Type.Default, false),
        ("events_scored", Int64Type.Default, false),
        ("errors", Int64Type.Default, false),
        ("dead_lettered", Int64Type.Default, false),
        ("latency_p50_ms", DoubleType.Default, false),
        ("latency_p99_ms", DoubleType.Default, false),
        ("latency_max_ms", DoubleType.Default, false),
        ("cpu_percent", DoubleType.Default, false),
        ("memory_bytes", Int64Type.Default, false),
    ];

    /// <summary>
    /// Columns added after the first release: written always, read as zero when a batch from an
    /// older agent lacks them, refused when present with another type.
    /// </summary>
    private static readonly (string Name, IArrowType Type)[] OptionalColumns =
    [
        ("latency_p95_ms", DoubleType.Default),
        ("queue_depth", Int64Type.Default),
        ("queue_bytes", Int64Type.Default),
        ("reports_shed", Int64Type.Default),
    ];

    public static Schema CreateSchema(string deviceId)
    {
        var builder = new Schema.Builder();
        foreach (var (name, type, nullable) in Columns)
        {
            builder.Field(f => f.Name(name).DataType(type).Nullable(nullable));
        }

        foreach (var (name, type) in OptionalColumns)
        {
            builder.Field(f => f.Name(name).DataType(type).Nullable(false));
        }

        return builder.Metadata(SchemaIdKey, SchemaId).Metadata(DeviceIdKey, deviceId).Build();
    }

    public static byte[] Serialize(string deviceId, IReadOnlyList<TelemetryRecord> records)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        ArgumentNullException.ThrowIfNull(records);

        var schema = CreateSchema(deviceId);
        IArrowArray[] arrays =
        [
            BuildInt64(records, r => r.Sequence),
            new TimestampArray.Builder(TimestampUtcMs).AppendRange(records.Select(r => r.Timestamp)).Build(),
            BuildString(records, r => r.ModelName),
            BuildString(records, r => r.ModelVersion),
            BuildString(records, r => r.ModelDigest),
            BuildInt64(records, r => r.EventsIn),
            BuildInt64(records, r => r.EventsScored),
            BuildInt64(records, r => r.Errors),
            BuildInt64(records, r => r.DeadLettered),
            BuildDouble(records, r => r.LatencyP50Ms),
            BuildDouble(records, r => r.LatencyP99Ms),
            BuildDouble(records, r => r.LatencyMaxMs),
            BuildDouble(records, r => r.CpuPercent),
            BuildInt64(records, r => r.MemoryBytes),
            BuildDouble(records, r => r.LatencyP95Ms),
            BuildInt64(records, r => r.QueueDepth),
            BuildInt64(records, r => r.QueueBytes),
            BuildInt64(records, r => r.ReportsShed),
        ];

        using var batch = new RecordBatch(schema, arrays, records.Count);
        using var buffer = new MemoryStream();
        using (var writer = new ArrowStreamWriter(buffer, schema, leaveOpen: true))
        {
            writer.WriteRecordBatch(batch);
            writer.WriteEnd();
        }

        return buffer.ToArray();
    }

    /// <summary>
    /// Decodes a telemetry stream. Throws <see cref="TelemetryFormatException"/> naming what is
    /// wrong when the payload is not an Arrow stream of this schema.
    /// </summary>
    public static TelemetryBatch Deserialize(ReadOnlyMemory<byte> payload)
    {
        try
        {
            using var reader = new ArrowStreamReader(payload);
            var records = new List<TelemetryRecord>();
            string? deviceId = null;
            while (reader.ReadNextRecordBatch() is { } batch)
            {
                using (batch)
                {
                    deviceId ??= ValidateSchema(batch.Schema);
                    ReadBatch(batch, records);
                }
            }

            if (deviceId is null)
            {
                throw new TelemetryFormatException("the stream holds no record batch");
            }

            return new TelemetryBatch(deviceId, records);
        }
        catch (Exception ex) when (ex is not (TelemetryFormatException or OutOfMemoryException or OperationCanceledException))
        {
            // The Arrow reader reports malformed input with many exception types, some of them
            // plain System.Exception; any of them means the same thing to a caller.
            throw new TelemetryFormatException($"not an Arrow IPC stream of this schema: {ex.Message}", ex);
        }
    }

    private static string ValidateSchema(Schema schema)
    {
        if (schema.Metadata is null
            || !schema.Metadata.TryGetValue(SchemaIdKey, out var id)
            || !string.Equals(id, SchemaId, StringComparison.Ordinal))
        {
            throw new TelemetryFormatException($"schema metadata '{SchemaIdKey}' is not '{SchemaId}'");
        }

        if (!schema.Metadata.TryGetValue(DeviceIdKey, out var deviceId) || string.IsNullOrEmpty(deviceId))
        {
            throw new TelemetryFormatException($"schema metadata '{DeviceIdKey}' is missing");
        }

        foreach (var (name, type, _) in Columns)
        {
            var field = schema.GetFieldByName(name)
                ?? throw new TelemetryFormatException($"column '{name}' is missing");
            if (field.DataType.TypeId != type.TypeId)
            {
                throw new TelemetryFormatException($"column '{name}' is {field.DataType.Name}, expected {type.Name}");
            }
        }

        foreach (var (name, type) in OptionalColumns)
        {
            if (schema.GetFieldByName(name) is { } field && field.DataType.TypeId != type.TypeId)
            {
                throw new TelemetryFormatException($"column '{name}' is {field.DataType.Name}, expected {type.Name}");
            }
        }

        return deviceId;
    }

    private static void ReadBatch(RecordBatch batch, List<TelemetryRecord> records)
    {
        var sequence = (Int64Array)batch.Column("sequence");
        var timestamp = (TimestampArray)batch.Column("timestamp");
        var modelName = (StringArray)batch.Column("model_name");
        var modelVersion = (StringArray)batch.Column("model_version");
        var modelDigest = (StringArray)batch.Column("model_digest");
        var eventsIn = (Int64Array)batch.Column("events_in");
        var eventsScored = (Int64Array)batch.Column("events_scored");
        var errors = (Int64Array)batch.Column("errors");
        var deadLettered = (Int64Array)batch.Column("dead_lettered");
        var p50 = (DoubleArray)batch.Column("latency_p50_ms");
        var p99 = (DoubleArray)batch.Column("latency_p99_ms");
        var max = (DoubleArray)batch.Column("latency_max_ms");
        var cpu = (DoubleArray)batch.Column("cpu_percent");
        var memory = (Int64Array)batch.Column("memory_bytes");
        var p95 = OptionalColumn<DoubleArray>(batch, "latency_p95_ms");
        var queueDepth = OptionalColumn<Int64Array>(batch, "queue_depth");
        var queueBytes = OptionalColumn<Int64Array>(batch, "queue_bytes");
        var shed = OptionalColumn<Int64Array>(batch, "reports_shed");
        ValidateOffsets(modelName, "model_name");
        ValidateOffsets(modelVersion, "model_version");
        ValidateOffsets(modelDigest, "model_digest");

        for (var i = 0; i < batch.Length; i++)
        {
            records.Add(new TelemetryRecord(
                Required(sequence.GetValue(i), "sequence"),
                timestamp.GetTimestamp(i) ?? throw new TelemetryFormatException("column 'timestamp' has a null"),
                modelName.GetString(i),
                modelVersion.GetString(i),
                modelDigest.GetString(i),
                Required(eventsIn.GetValue(i), "events_in"),
                Required(eventsScored.GetValue(i), "events_scored"),
                Required(errors.GetValue(i), "errors"),
                Required(deadLettered.GetValue(i), "dead_lettered"),
                Required(p50.GetValue(i), "latency_p50_ms"),
                Required(p99.GetValue(i), "latency_p99_ms"),
                Required(max.GetValue(i), "latency_max_ms"),
                Required(cpu.GetValue(i), "cpu_percent"),
                Required(memory.GetValue(i), "memory_bytes"),
                p95 is null ? 0 : Required(p95.GetValue(i), "latency_p95_ms"),
                queueDepth is null ? 0 : Required(queueDepth.GetValue(i), "queue_depth"),
                queueBytes is null ? 0 : Required(queueBytes.GetValue(i), "queue_bytes"),
                shed is null ? 0 : Required(shed.GetValue(i), "reports_shed")));
        }
    }

    private static T? OptionalColumn<T>(RecordBatch batch, string name)
        where T : class, IArrowArray =>
        batch.Schema.GetFieldIndex(name) is var index and >= 0 ? (T)batch.Column(index) : null;

    /// <summary>
    /// The reader decodes strings through raw pointers, so offsets that point past the data
    /// buffer would read foreign memory or crash the process: check them before any read.
    /// </summary>
    private static void ValidateOffsets(StringArray strings, string column)
    {
        var offsets = strings.ValueOffsets;
        if (strings.Length > 0 && offsets.Length < strings.Offset + strings.Length + 1)
        {
            throw new TelemetryFormatException($"column '{column}' has fewer offsets than rows");
        }

        var dataLength = strings.Values.Length;
        for (var i = strings.Offset; i < strings.Offset + strings.Length; i++)
        {
            if (offsets[i] < 0 || offsets[i + 1] < offsets[i] || offsets[i + 1] > dataLength)
            {
                throw new TelemetryFormatException($"column '{column}' has offsets outside its data (row {i - strings.Offset})");
            }
        }
    }

    private static T Required<T>(T? value, string column)
        where T : struct =>
        value ?? throw new TelemetryFormatException($"column '{column}' has a null");

    private static Int64Array BuildInt64(IReadOnlyList<TelemetryRecord> records, Func<TelemetryRecord, long> select) =>
        new Int64Array.Builder().AppendRange(records.Select(select)).Build();

    private static DoubleArray BuildDouble(IReadOnlyList<TelemetryRecord> records, Func<TelemetryRecord, double> select) =>
        new DoubleArray.Builder().AppendRange(records.Select(select)).Build();

    private static StringArray BuildString(IReadOnlyList<TelemetryRecord> records, Func<TelemetryRecord, string?> select)
    {
        var builder = new StringArray.Builder();
        foreach (var record in records)
        {
            var value = select(record);
            if (value is null)
            {
                builder.AppendNull();
            }
            else
            {
                builder.Append(value);
            }
        }

        return builder.Build();
    }
}

public sealed record TelemetryBatch(string DeviceId, IReadOnlyList<TelemetryRecord> Records);

/// <summary>A telemetry payload that does not follow <see cref="TelemetryArrow"/>'s schema.</summary>
public sealed class TelemetryFormatException : Exception
{
    public TelemetryFormatException()
    {
    }

    public TelemetryFormatException(string message)
        : base(message)
    {
    }

    public TelemetryFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
