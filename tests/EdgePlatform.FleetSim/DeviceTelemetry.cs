using EdgePlatform.Contracts;

namespace EdgePlatform.FleetSim;

/// <summary>
/// One device's scoring, as telemetry: every interval the events it would have scored (the
/// configured rate, each version's error rate and latency) become one health report, which the
/// agent's <see cref="Agent.Core.Telemetry.TelemetryOutbox"/> numbers, spools and sends. At most
/// <see cref="MaxPending"/> reports wait while the device is offline; older ones are shed and counted.
/// </summary>
internal sealed class DeviceTelemetry(SimulatorOptions options, Random random)
{
    public const int MaxPending = 1000;

    private double _eventCarry;
    private double _errorCarry;

    /// <summary>The report for an interval of <paramref name="interval"/> ending <paramref name="at"/> with <paramref name="active"/> serving.</summary>
    public TelemetryRecord Next(ModelReference? active, TimeSpan interval, DateTimeOffset at)
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

        // The outbox gives the sequence number and the queue figures as it spools the report.
        return new TelemetryRecord(
            0,
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
            AgentVersion: Agent.Core.Reconciliation.Reconciler.AgentVersion);
    }
}
