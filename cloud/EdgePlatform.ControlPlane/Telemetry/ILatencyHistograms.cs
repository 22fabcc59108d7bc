namespace EdgePlatform.ControlPlane.Telemetry;

/// <summary>
/// Reads perf records' latency histograms (HdrHistogram encodings): ingest refuses a record whose
/// histogram cannot be read (as malformed) instead of failing the store, and the fleet metrics
/// take every recorded latency from it.
/// </summary>
public interface ILatencyHistograms
{
    /// <summary>
    /// The histogram's recorded latencies in milliseconds, each with how often it was recorded
    /// (none for an empty encoding); null with <paramref name="problem"/> saying why when it is
    /// not a histogram the store can merge.
    /// </summary>
    IReadOnlyList<(double Ms, long Count)>? Read(ReadOnlyMemory<byte> encoded, out string? problem);
}
