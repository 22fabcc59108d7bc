namespace EdgePlatform.Contracts;

/// <summary>
/// One health-and-performance report of a device for one telemetry interval. Counters are
/// per interval, not cumulative, so the cloud's sums equal the device's counts exactly as long
/// as every sequence number is ingested once.
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
    long MemoryBytes);
