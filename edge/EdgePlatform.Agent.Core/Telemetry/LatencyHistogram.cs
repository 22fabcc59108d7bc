using HdrHistogram;
using HdrHistogram.Utilities;

namespace EdgePlatform.Agent.Core.Telemetry;

/// <summary>
/// One interval's latencies as an HdrHistogram in microseconds (3 significant digits, up to
/// <see cref="HighestTrackableMicros"/>), plus the exact maximum and mean. Not thread-safe: the
/// owner records and takes under its own lock.
/// </summary>
public sealed class LatencyHistogram
{
    /// <summary>Latencies above a minute are recorded as a minute; <see cref="MaxMs"/> stays exact.</summary>
    public const long HighestTrackableMicros = 60_000_000;

    private readonly LongHistogram _histogram = new(1, HighestTrackableMicros, 3);
    private double _sumMs;
    private double _maxMs;

    public long Count => _histogram.TotalCount;

    public double MaxMs => _maxMs;

    public double MeanMs => Count == 0 ? 0 : _sumMs / Count;

    public void Record(TimeSpan latency)
    {
        var ms = latency.TotalMilliseconds;
        _sumMs += ms;
        _maxMs = Math.Max(_maxMs, ms);
        _histogram.RecordValue(Math.Clamp(latency.Ticks / TimeSpan.TicksPerMicrosecond, 0, HighestTrackableMicros));
    }

    /// <summary>The latency at <paramref name="percentile"/> (0–100) in milliseconds, within the histogram's 0.1 %; 0 when empty.</summary>
    public double PercentileMs(double percentile) =>
        Count == 0 ? 0 : Math.Min(_histogram.GetValueAtPercentile(percentile) / 1000.0, _maxMs);

    /// <summary>HdrHistogram's compressed V2 encoding, which any HdrHistogram implementation decodes and adds up.</summary>
    public byte[] Encode()
    {
        var buffer = ByteBuffer.Allocate(_histogram.GetNeededByteBufferCapacity());
        var length = _histogram.EncodeIntoCompressedByteBuffer(buffer);
        var bytes = new byte[length];
        buffer.Position = 0;
        for (var i = 0; i < length; i++)
        {
            bytes[i] = buffer.Get();
        }

        return bytes;
    }

    public void Reset()
    {
        _histogram.Reset();
        _sumMs = 0;
        _maxMs = 0;
    }
}
