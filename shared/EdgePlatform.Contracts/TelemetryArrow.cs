using Apache.Arrow;
using Apache.Arrow.Types;

namespace EdgePlatform.Contracts;

/// <summary>
/// Arrow IPC stream encoding of <see cref="TelemetryRecord"/> batches, the health kind
/// (<see cref="MediaTypes.ArrowStream"/>). The schema carries the sending device's id in its
/// metadata so the cloud can refuse a batch published under another device's topic.
/// </summary>
public static class TelemetryArrow
{
    public const string SchemaId = "edgeplatform.telemetry.v1";
    public const string SchemaIdKey = "schema";
    public const string DeviceIdKey = "device_id";

    /// <summary>
    /// The first release's columns, then the columns added since (<see cref="ColumnSpec.Optional"/>):
    /// those are written always, read as zero (or null) when a batch from an older agent lacks
    /// them, and refused when present with another type.
    /// </summary>
    private static readonly ColumnSpec[] Columns =
    [
        new("sequence", Int64Type.Default, false),
        new("timestamp", TelemetryColumns.TimestampUtcMs, false),
        new("model_name", StringType.Default, true),
        new("model_version", StringType.Default, true),
        new("manifest_digest", StringType.Default, true),
        new("events_in", Int64Type.Default, false),
        new("events_scored", Int64Type.Default, false),
        new("errors", Int64Type.Default, false),
        new("dead_lettered", Int64Type.Default, false),
        new("latency_p50_ms", DoubleType.Default, false),
        new("latency_p99_ms", DoubleType.Default, false),
        new("latency_max_ms", DoubleType.Default, false),
        new("cpu_percent", DoubleType.Default, false),
        new("memory_bytes", Int64Type.Default, false),
        new("latency_p95_ms", DoubleType.Default, false, Optional: true),
        new("queue_depth", Int64Type.Default, false, Optional: true),
        new("queue_bytes", Int64Type.Default, false, Optional: true),
        new("reports_shed", Int64Type.Default, false, Optional: true),
        new("disk_free_bytes", Int64Type.Default, false, Optional: true),
        new("disk_total_bytes", Int64Type.Default, false, Optional: true),
        new("agent_version", StringType.Default, true, Optional: true),
        new("attestation_state", StringType.Default, true, Optional: true),
        new("heartbeat_seconds", Int32Type.Default, false, Optional: true),
        new("events_dropped", Int64Type.Default, false, Optional: true),
        new("feedback_unmatched", Int64Type.Default, false, Optional: true),
        new("feedback_malformed", Int64Type.Default, false, Optional: true),
    ];

    public static Schema CreateSchema(string deviceId) => TelemetryColumns.CreateSchema(Columns, SchemaId, deviceId);

    public static byte[] Serialize(string deviceId, IReadOnlyList<TelemetryRecord> records)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        ArgumentNullException.ThrowIfNull(records);

        IArrowArray[] arrays =
        [
            TelemetryColumns.Int64(records, r => r.Sequence),
            TelemetryColumns.Timestamp(records, r => r.Timestamp),
            TelemetryColumns.String(records, r => r.ModelName),
            TelemetryColumns.String(records, r => r.ModelVersion),
            TelemetryColumns.String(records, r => r.ManifestDigest),
            TelemetryColumns.Int64(records, r => r.EventsIn),
            TelemetryColumns.Int64(records, r => r.EventsScored),
            TelemetryColumns.Int64(records, r => r.Errors),
            TelemetryColumns.Int64(records, r => r.DeadLettered),
            TelemetryColumns.Double(records, r => r.LatencyP50Ms),
            TelemetryColumns.Double(records, r => r.LatencyP99Ms),
            TelemetryColumns.Double(records, r => r.LatencyMaxMs),
            TelemetryColumns.Double(records, r => r.CpuPercent),
            TelemetryColumns.Int64(records, r => r.MemoryBytes),
            TelemetryColumns.Double(records, r => r.LatencyP95Ms),
            TelemetryColumns.Int64(records, r => r.QueueDepth),
            TelemetryColumns.Int64(records, r => r.QueueBytes),
            TelemetryColumns.Int64(records, r => r.ReportsShed),
            TelemetryColumns.Int64(records, r => r.DiskFreeBytes),
            TelemetryColumns.Int64(records, r => r.DiskTotalBytes),
            TelemetryColumns.String(records, r => r.AgentVersion),
            TelemetryColumns.String(records, r => r.AttestationState),
            TelemetryColumns.Int32(records, r => r.HeartbeatSeconds),
            TelemetryColumns.Int64(records, r => r.EventsDropped),
            TelemetryColumns.Int64(records, r => r.FeedbackUnmatched),
            TelemetryColumns.Int64(records, r => r.FeedbackMalformed),
        ];

        return TelemetryColumns.Write(CreateSchema(deviceId), arrays, records.Count);
    }

    /// <summary>
    /// Decodes a telemetry stream. Throws <see cref="TelemetryFormatException"/> naming what is
    /// wrong when the payload is not an Arrow stream of this schema.
    /// </summary>
    public static TelemetryBatch Deserialize(ReadOnlyMemory<byte> payload)
    {
        var (deviceId, records) = TelemetryColumns.Read<TelemetryRecord>(payload, SchemaId, Columns, ReadBatch);
        return new TelemetryBatch(deviceId, records);
    }

    private static void ReadBatch(RecordBatch batch, List<TelemetryRecord> records)
    {
        var sequence = TelemetryColumns.Column<Int64Array>(batch, "sequence");
        var timestamp = TelemetryColumns.Column<TimestampArray>(batch, "timestamp");
        var modelName = TelemetryColumns.Column<StringArray>(batch, "model_name");
        var modelVersion = TelemetryColumns.Column<StringArray>(batch, "model_version");
        var manifestDigest = TelemetryColumns.Column<StringArray>(batch, "manifest_digest");
        var eventsIn = TelemetryColumns.Column<Int64Array>(batch, "events_in");
        var eventsScored = TelemetryColumns.Column<Int64Array>(batch, "events_scored");
        var errors = TelemetryColumns.Column<Int64Array>(batch, "errors");
        var deadLettered = TelemetryColumns.Column<Int64Array>(batch, "dead_lettered");
        var p50 = TelemetryColumns.Column<DoubleArray>(batch, "latency_p50_ms");
        var p99 = TelemetryColumns.Column<DoubleArray>(batch, "latency_p99_ms");
        var max = TelemetryColumns.Column<DoubleArray>(batch, "latency_max_ms");
        var cpu = TelemetryColumns.Column<DoubleArray>(batch, "cpu_percent");
        var memory = TelemetryColumns.Column<Int64Array>(batch, "memory_bytes");
        var p95 = TelemetryColumns.Optional<DoubleArray>(batch, "latency_p95_ms");
        var queueDepth = TelemetryColumns.Optional<Int64Array>(batch, "queue_depth");
        var queueBytes = TelemetryColumns.Optional<Int64Array>(batch, "queue_bytes");
        var shed = TelemetryColumns.Optional<Int64Array>(batch, "reports_shed");
        var diskFree = TelemetryColumns.Optional<Int64Array>(batch, "disk_free_bytes");
        var diskTotal = TelemetryColumns.Optional<Int64Array>(batch, "disk_total_bytes");
        var agentVersion = TelemetryColumns.Optional<StringArray>(batch, "agent_version");
        var attestation = TelemetryColumns.Optional<StringArray>(batch, "attestation_state");
        var heartbeat = TelemetryColumns.Optional<Int32Array>(batch, "heartbeat_seconds");
        var dropped = TelemetryColumns.Optional<Int64Array>(batch, "events_dropped");
        var unmatched = TelemetryColumns.Optional<Int64Array>(batch, "feedback_unmatched");
        var malformed = TelemetryColumns.Optional<Int64Array>(batch, "feedback_malformed");
        TelemetryColumns.ValidateOffsets(modelName, "model_name");
        TelemetryColumns.ValidateOffsets(modelVersion, "model_version");
        TelemetryColumns.ValidateOffsets(manifestDigest, "manifest_digest");
        if (agentVersion is not null)
        {
            TelemetryColumns.ValidateOffsets(agentVersion, "agent_version");
        }

        if (attestation is not null)
        {
            TelemetryColumns.ValidateOffsets(attestation, "attestation_state");
        }

        for (var i = 0; i < batch.Length; i++)
        {
            records.Add(new TelemetryRecord(
                TelemetryColumns.Required(sequence.GetValue(i), "sequence"),
                timestamp.GetTimestamp(i) ?? throw new TelemetryFormatException("column 'timestamp' has a null"),
                modelName.GetString(i),
                modelVersion.GetString(i),
                manifestDigest.GetString(i),
                TelemetryColumns.Required(eventsIn.GetValue(i), "events_in"),
                TelemetryColumns.Required(eventsScored.GetValue(i), "events_scored"),
                TelemetryColumns.Required(errors.GetValue(i), "errors"),
                TelemetryColumns.Required(deadLettered.GetValue(i), "dead_lettered"),
                TelemetryColumns.Required(p50.GetValue(i), "latency_p50_ms"),
                TelemetryColumns.Required(p99.GetValue(i), "latency_p99_ms"),
                TelemetryColumns.Required(max.GetValue(i), "latency_max_ms"),
                TelemetryColumns.Required(cpu.GetValue(i), "cpu_percent"),
                TelemetryColumns.Required(memory.GetValue(i), "memory_bytes"),
                p95 is null ? 0 : TelemetryColumns.Required(p95.GetValue(i), "latency_p95_ms"),
                queueDepth is null ? 0 : TelemetryColumns.Required(queueDepth.GetValue(i), "queue_depth"),
                queueBytes is null ? 0 : TelemetryColumns.Required(queueBytes.GetValue(i), "queue_bytes"),
                shed is null ? 0 : TelemetryColumns.Required(shed.GetValue(i), "reports_shed"))
            {
                DiskFreeBytes = diskFree is null ? 0 : TelemetryColumns.Required(diskFree.GetValue(i), "disk_free_bytes"),
                DiskTotalBytes = diskTotal is null ? 0 : TelemetryColumns.Required(diskTotal.GetValue(i), "disk_total_bytes"),
                AgentVersion = agentVersion?.GetString(i),
                AttestationState = attestation?.GetString(i),
                HeartbeatSeconds = heartbeat is null ? 0 : TelemetryColumns.Required(heartbeat.GetValue(i), "heartbeat_seconds"),
                EventsDropped = dropped is null ? 0 : TelemetryColumns.Required(dropped.GetValue(i), "events_dropped"),
                FeedbackUnmatched = unmatched is null ? 0 : TelemetryColumns.Required(unmatched.GetValue(i), "feedback_unmatched"),
                FeedbackMalformed = malformed is null ? 0 : TelemetryColumns.Required(malformed.GetValue(i), "feedback_malformed"),
            });
        }
    }
}

public sealed record TelemetryBatch(string DeviceId, IReadOnlyList<TelemetryRecord> Records);

/// <summary>A telemetry payload that does not follow the Arrow schema of its kind.</summary>
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
