namespace EdgePlatform.ControlPlane.Telemetry;

/// <summary>
/// Tells whether a perf record's latency histogram can be read, so a device that sends one the
/// rollups cannot merge is refused at ingest (as malformed) instead of failing the store.
/// </summary>
public interface ILatencyHistogramCheck
{
    /// <summary>Null when <paramref name="encoded"/> is empty or a histogram the store can merge; otherwise why not.</summary>
    string? Problem(ReadOnlyMemory<byte> encoded);
}
