using HdrHistogram;
using HdrHistogram.Utilities;

namespace EdgePlatform.ControlPlane.Host.Telemetry;

/// <summary>
/// Latency histograms as devices send them: HdrHistogram's compressed V2 encoding of
/// microseconds. Histograms add up bucket by bucket, so a merge of any records' histograms gives
/// the true percentiles of all their latencies.
/// </summary>
public static class LatencyHistograms
{
    /// <summary>The merged histogram of <paramref name="encoded"/> (empty ones are skipped); null when all are empty.</summary>
    public static HistogramBase? Merge(IEnumerable<ReadOnlyMemory<byte>> encoded)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        HistogramBase? merged = null;
        foreach (var bytes in encoded)
        {
            if (bytes.IsEmpty)
            {
                continue;
            }

            var histogram = Decode(bytes);
            if (merged is null)
            {
                merged = histogram;
            }
            else
            {
                merged.Add(histogram);
            }
        }

        return merged;
    }

    /// <summary>
    /// Decodes one histogram. Throws <see cref="InvalidDataException"/> for bytes that are not
    /// HdrHistogram's compressed encoding.
    /// </summary>
    public static HistogramBase Decode(ReadOnlyMemory<byte> encoded)
    {
        var buffer = ByteBuffer.Allocate(encoded.ToArray());
        try
        {
            return HistogramEncoding.DecodeFromCompressedByteBuffer(buffer, 0);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or IndexOutOfRangeException or FormatException or System.IO.InvalidDataException)
        {
            throw new InvalidDataException($"not an HdrHistogram compressed encoding: {ex.Message}", ex);
        }
    }

    /// <summary>What ingest and the fleet metrics read of perf records' histograms.</summary>
    public sealed class Reader : EdgePlatform.ControlPlane.Telemetry.ILatencyHistograms
    {
        public IReadOnlyList<(double Ms, long Count)>? Read(ReadOnlyMemory<byte> encoded, out string? problem)
        {
            problem = null;
            if (encoded.IsEmpty)
            {
                return [];
            }

            try
            {
                return [.. Decode(encoded).RecordedValues().Select(v => (v.ValueIteratedTo / 1000.0, v.CountAtValueIteratedTo))];
            }
            catch (InvalidDataException ex)
            {
                problem = ex.Message;
                return null;
            }
        }
    }

    public static byte[] Encode(HistogramBase histogram)
    {
        ArgumentNullException.ThrowIfNull(histogram);
        var buffer = ByteBuffer.Allocate(histogram.GetNeededByteBufferCapacity());
        var length = histogram.EncodeIntoCompressedByteBuffer(buffer);
        var bytes = new byte[length];
        buffer.Position = 0;
        for (var i = 0; i < length; i++)
        {
            bytes[i] = buffer.Get();
        }

        return bytes;
    }

    /// <summary>The latency at <paramref name="percentile"/> (0–100) in milliseconds; 0 for an empty histogram.</summary>
    public static double PercentileMs(HistogramBase? histogram, double percentile) =>
        histogram is null || histogram.TotalCount == 0 ? 0 : histogram.GetValueAtPercentile(percentile) / 1000.0;
}
