using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Core.Telemetry;

namespace EdgePlatform.FleetSim.Adapters;

/// <summary>
/// A simulated device's telemetry spool, in memory: the <see cref="TelemetryOutbox"/> numbers,
/// batches and acknowledges through it exactly as through the agent's <see cref="DiskSpool"/>.
/// Past <see cref="MaxEntries"/> the oldest entry is shed and counted.
/// </summary>
internal sealed class MemorySpool(int maxEntries) : ITelemetrySpool
{
    private readonly Lock _gate = new();
    private readonly Queue<SpoolEntry> _entries = new();
    private long _nextId = 1;
    private long _bytes;
    private long _shed;

    public int MaxEntries => maxEntries;

    public long Count
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }

    public long Bytes
    {
        get
        {
            lock (_gate)
            {
                return _bytes;
            }
        }
    }

    public long ShedTotal
    {
        get
        {
            lock (_gate)
            {
                return _shed;
            }
        }
    }

    public int MaxPayloadBytes => 1 << 20;

    public long? Append(Func<long, byte[]> payloadForId)
    {
        ArgumentNullException.ThrowIfNull(payloadForId);
        lock (_gate)
        {
            var id = _nextId++;
            var payload = payloadForId(id);
            if (payload.Length > MaxPayloadBytes)
            {
                throw new ArgumentException($"an entry of {payload.Length} bytes exceeds the {MaxPayloadBytes} one may hold", nameof(payloadForId));
            }

            _entries.Enqueue(new SpoolEntry(id, payload));
            _bytes += payload.Length;
            while (_entries.Count > maxEntries)
            {
                _bytes -= _entries.Dequeue().Payload.Length;
                _shed++;
            }

            return id;
        }
    }

    public IReadOnlyList<SpoolEntry> Peek(int maxCount, long maxBytes)
    {
        lock (_gate)
        {
            var batch = new List<SpoolEntry>(Math.Min(maxCount, _entries.Count));
            long bytes = 0;
            foreach (var entry in _entries)
            {
                if (batch.Count == maxCount || (batch.Count > 0 && bytes + entry.Payload.Length > maxBytes))
                {
                    break;
                }

                batch.Add(entry);
                bytes += entry.Payload.Length;
            }

            return batch;
        }
    }

    public void Acknowledge(long upToId)
    {
        lock (_gate)
        {
            while (_entries.Count > 0 && _entries.Peek().Id <= upToId)
            {
                _bytes -= _entries.Dequeue().Payload.Length;
            }
        }
    }

    public void Dispose()
    {
        // Nothing outside memory to release.
    }
}
