namespace EdgePlatform.Contracts;

/// <summary>
/// One health-and-performance report of a device for one telemetry interval. Counters are
/// per interval, not cumulative, so the cloud's sums equal the device's counts exactly as long
/// as every sequence number is ingested once. <see cref="QueueDepth"/> and
/// <see cref="ReportsShed"/> describe the device's store-and-forward spool when the report was
/// made; <see cref="ReportsShed"/> is cumulative, so the latest report the cloud holds carries
/// everything shed before it, even when the reports that were shed carried earlier totals.
/// </summary>
public sealed record TelemetryRecord(
    long Sequence,
    DateTimeOffset Timestamp,
    string? ModelName,
    string? ModelVersion,
    string? ModelDigest,
    long EventsIn,
    long EventsScored,
    long Errors,
    long DeadLettered,
    double LatencyP50Ms,
    double LatencyP99Ms,
    double LatencyMaxMs,
    double CpuPercent,
    long MemoryBytes,
    double LatencyP95Ms = 0,
    long QueueDepth = 0,
    long QueueBytes = 0,
    long ReportsShed = 0);
