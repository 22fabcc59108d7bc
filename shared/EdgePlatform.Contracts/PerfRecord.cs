namespace EdgePlatform.Contracts;

/// <summary>
/// What one model version did on one experiment arm of a device during one telemetry interval
/// (kind <see cref="TelemetryKinds.Perf"/>): one record per (version, arm) that saw events, each
/// with its own sequence number from the device's one sequence. Counters are per interval.
/// Every event the version and arm took ends in exactly one of <see cref="EventsScored"/>,
/// <see cref="Errors"/> (ONNX Runtime failed on its batch), <see cref="DeadLettered"/> (it could
/// not be bound to this model's inputs) or <see cref="Dropped"/> (shed by a full queue while this
/// version was the control; shed events were never bound, so they count against the control arm).
/// </summary>
/// <remarks>
/// <para><c>IntervalMs</c>: Length of the interval the counters cover.</para>
/// <para><c>ManifestDigest</c>: The manifest digest of the package the version came from (as in health); null for a model loaded from files rather than a package.</para>
/// <para><c>Arm</c>: <see cref="Arms.Control"/> or <see cref="Arms.Candidate"/>.</para>
/// <para><c>EventsIn</c>: Events this version and arm took: scored + errors + dead-lettered + dropped.</para>
/// <para><c>LatencyMeanMs</c>: Latencies run from the engine accepting an event to its prediction: queue wait, binding and inference.</para>
/// <para><c>LatencyHistogram</c>: 
/// The interval's latencies in microseconds as an HdrHistogram in its compressed V2 encoding
/// (cookie <c>0x1c849314</c>; 3 significant digits, highest trackable value 60 s, longer
/// latencies recorded as 60 s). Histograms of any devices and intervals add up, so fleet
/// percentiles are true percentiles; decode with HdrHistogram's
/// <c>DecodeFromCompressedByteBuffer</c>. Empty when the record carries no histogram.
/// </para>
/// <para><c>Batches</c>: ONNX Runtime runs of this version on this arm.</para>
/// <para><c>BatchSizeHistogram</c>: 
/// Runs by size over power-of-two buckets: bucket 0 counts runs of 1 event, bucket i (i ≥ 1) runs
/// of 2^(i−1)+1 to 2^i events (1 | 2 | 3–4 | 5–8 | 9–16 | …). The list ends at its last
/// non-empty bucket; lists of different lengths add up element by element.
/// </para>
/// </remarks>
public sealed record PerfRecord(
    long Sequence,
    DateTimeOffset Timestamp,
    long IntervalMs,
    string ModelName,
    string ModelVersion,
    string? ManifestDigest,
    string Arm,
    long EventsIn,
    long EventsScored,
    long Errors,
    long DeadLettered,
    long Dropped,
    double LatencyP50Ms,
    double LatencyP95Ms,
    double LatencyP99Ms,
    double LatencyMaxMs,
    double LatencyMeanMs,
    ReadOnlyMemory<byte> LatencyHistogram,
    long Batches,
    double BatchSizeMean,
    long BatchSizeMax,
    IReadOnlyList<long> BatchSizeHistogram)
{
    /// <summary>The bucket of <see cref="BatchSizeHistogram"/> a run of <paramref name="size"/> events falls in.</summary>
    public static int BatchSizeBucket(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        return size == 1 ? 0 : 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)(size - 1));
    }

    public bool Equals(PerfRecord? other) =>
        other is not null
        && Sequence == other.Sequence
        && Timestamp == other.Timestamp
        && IntervalMs == other.IntervalMs
        && string.Equals(ModelName, other.ModelName, StringComparison.Ordinal)
        && string.Equals(ModelVersion, other.ModelVersion, StringComparison.Ordinal)
        && string.Equals(ManifestDigest, other.ManifestDigest, StringComparison.Ordinal)
        && string.Equals(Arm, other.Arm, StringComparison.Ordinal)
        && EventsIn == other.EventsIn
        && EventsScored == other.EventsScored
        && Errors == other.Errors
        && DeadLettered == other.DeadLettered
        && Dropped == other.Dropped
        && LatencyP50Ms.Equals(other.LatencyP50Ms)
        && LatencyP95Ms.Equals(other.LatencyP95Ms)
        && LatencyP99Ms.Equals(other.LatencyP99Ms)
        && LatencyMaxMs.Equals(other.LatencyMaxMs)
        && LatencyMeanMs.Equals(other.LatencyMeanMs)
        && LatencyHistogram.Span.SequenceEqual(other.LatencyHistogram.Span)
        && Batches == other.Batches
        && BatchSizeMean.Equals(other.BatchSizeMean)
        && BatchSizeMax == other.BatchSizeMax
        && BatchSizeHistogram.SequenceEqual(other.BatchSizeHistogram);

    public override int GetHashCode() => HashCode.Combine(Sequence, ModelName, ModelVersion, Arm, EventsIn);
}
