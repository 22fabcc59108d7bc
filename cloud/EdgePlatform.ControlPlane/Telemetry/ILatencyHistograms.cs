namespace EdgePlatform.ControlPlane.Telemetry;

/// <summary>
/// Reads perf records' latency histograms (HdrHistogram encodings): ingest refuses a record whose
/// histogram cannot be read (as malformed) instead of failing the store, and the fleet metrics
/// take every recorded latency from it.
/// </summary>
public interface ILatencyHistograms
{
    /// <summary>Null when <paramref name="encoded"/> is empty or a histogram the store can merge; otherwise why not.</summary>
    string? Problem(ReadOnlyMemory<byte> encoded);

    /// <summary>The histogram's recorded latencies in milliseconds, each with how often it was recorded.</summary>
    IEnumerable<(double Ms, long Count)> Values(ReadOnlyMemory<byte> encoded);
}
