using EdgePlatform.Agent.Core.Telemetry;

namespace EdgePlatform.Agent.Core.Ports;

/// <summary>
/// The bounded FIFO that holds telemetry reports until the broker acknowledged them: entries get
/// increasing ids that are never reused, and leave only by acknowledgement or by shedding, which
/// <see cref="ShedTotal"/> counts. A device keeps it on disk (<see cref="DiskSpool"/>).
/// </summary>
public interface ITelemetrySpool : IDisposable
{
    /// <summary>Live entries: appended, neither acknowledged nor shed.</summary>
    long Count { get; }

    long Bytes { get; }

    long ShedTotal { get; }

    /// <summary>The largest payload one entry may hold.</summary>
    int MaxPayloadBytes { get; }

    /// <summary>Appends the payload made for the next id; null when the spool's policy shed this very entry.</summary>
    long? Append(Func<long, byte[]> payloadForId);

    /// <summary>The oldest live entries, without removing them.</summary>
    IReadOnlyList<SpoolEntry> Peek(int maxCount, long maxBytes);

    /// <summary>Removes every entry up to and including <paramref name="upToId"/>.</summary>
    void Acknowledge(long upToId);
}
