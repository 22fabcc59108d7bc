using EdgePlatform.Contracts;

namespace EdgePlatform.FleetSim;

/// <summary>
/// One device's telemetry: every interval the events it would have scored (the configured rate,
/// each version's error rate and latency) become one health report with the next sequence
/// number. Reports wait in memory while the device is offline and go up, oldest first and
/// batched, when it is back; past <see cref="MaxPending"/> the oldest are shed and counted, as
/// the agent's spool does.
/// </summary>
internal sealed class DeviceTelemetry(SimulatorOptions options, Random random)
{
    public const int MaxPending = 1000;
    public const int MaxBatch = 100;

    private readonly Queue<TelemetryRecord> _pending = new();
    private long _sequence;
    private double _eventCarry;
    private double _errorCarry;
    private long _shed;

    public int Pending
    {
        get
        {
            lock (_pending)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>Makes the report for an interval of <paramref name="interval"/> ending <paramref name="at"/> with <paramref name="active"/> serving.</summary>
    public TelemetryRecord Add(ModelReference? active, TimeSpan interval, DateTimeOffset at)
    {
        long events = 0;
        long errors = 0;
        double p50 = 0;
        if (active is not null)
        {
            var exactEvents = (options.EventsPerSecond * interval.TotalSeconds) + _eventCarry;
            events = (long)Math.Floor(exactEvents);
            _eventCarry = exactEvents - events;
            var exactErrors = (events * options.ErrorRateOf(active.Name, active.Version)) + _errorCarry;
            errors = (long)Math.Floor(exactErrors);
            _errorCarry = exactErrors - errors;

            // A little spread between devices and intervals, so gates read averages of real variation.
            p50 = options.LatencyOf(active.Name, active.Version) * (0.95 + (random.NextDouble() * 0.1));
        }

        lock (_pending)
        {
            var record = new TelemetryRecord(
                Interlocked.Increment(ref _sequence),
                at,
                active?.Name,
                active?.Version,
                active?.ManifestDigest,
                events,
                events - errors,
                errors,
                0,
                Math.Round(p50, 3),
                Math.Round(p50 * 2.2, 3),
                Math.Round(p50 * 3, 3),
                0,
                0,
                Math.Round(p50 * 1.6, 3),
                _pending.Count,
                0,
                _shed);
            _pending.Enqueue(record);
            while (_pending.Count > MaxPending)
            {
                _pending.Dequeue();
                _shed++;
            }

            return record;
        }
    }

    /// <summary>The oldest waiting reports, up to <see cref="MaxBatch"/>; they stay queued until <see cref="Acknowledge"/>.</summary>
    public IReadOnlyList<TelemetryRecord> Peek()
    {
        lock (_pending)
        {
            return [.. _pending.Take(MaxBatch)];
        }
    }

    /// <summary>Removes the reports the broker acknowledged (those up to <paramref name="lastSequence"/>).</summary>
    public void Acknowledge(long lastSequence)
    {
        lock (_pending)
        {
            while (_pending.Count > 0 && _pending.Peek().Sequence <= lastSequence)
            {
                _pending.Dequeue();
            }
        }
    }
}
