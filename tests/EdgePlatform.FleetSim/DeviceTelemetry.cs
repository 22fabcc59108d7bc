using EdgePlatform.Contracts;

namespace EdgePlatform.FleetSim;

/// <summary>
/// One device's scoring, as telemetry: every interval the events it would have scored (the
/// configured rate, each version's error rate and latency) become one health report, and the
/// labelled feedback on them (each version's accuracy, this device's own offset from it) one
/// quality report of the active version, which the agent's
/// <see cref="Agent.Core.Telemetry.TelemetryOutbox"/> numbers from the device's one sequence,
/// spools and sends. At most <see cref="MaxPending"/> reports wait while the device is offline;
/// older ones are shed and counted.
/// </summary>
internal sealed class DeviceTelemetry(SimulatorOptions options, Random random)
{
    public const int MaxPending = 1000;

    private readonly Dictionary<string, double> _accuracyOffsets = new(StringComparer.Ordinal);
    private double _eventCarry;
    private double _errorCarry;
    private double _labelCarry;

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

    /// <summary>
    /// The quality report of <paramref name="active"/> for the interval whose health report is
    /// <paramref name="health"/>: the configured share of its scored events labelled, each right
    /// with the version's accuracy plus this device's offset, as binary confusion counts (labels
    /// half positive). Null when no model is active or nothing was scored.
    /// </summary>
    public QualityRecord? Quality(ModelReference? active, TelemetryRecord health)
    {
        if (active is null || health.EventsScored <= 0)
        {
            return null;
        }

        var exactLabelled = (health.EventsScored * options.LabelledShare) + _labelCarry;
        var labelled = (long)Math.Floor(exactLabelled);
        _labelCarry = exactLabelled - labelled;
        var release = $"{active.Name}:{active.Version}";
        if (!_accuracyOffsets.TryGetValue(release, out var offset))
        {
            offset = ((random.NextDouble() * 2) - 1) * options.AccuracySpread;
            _accuracyOffsets[release] = offset;
        }

        var accuracy = Math.Clamp(options.AccuracyOf(active.Name, active.Version) + offset, 0, 1);
        long truePositives = 0, falsePositives = 0, trueNegatives = 0, falseNegatives = 0;
        for (var i = 0; i < labelled; i++)
        {
            var positive = random.NextDouble() < 0.5;
            var right = random.NextDouble() < accuracy;
            switch ((positive, right))
            {
                case (true, true): truePositives++; break;
                case (true, false): falseNegatives++; break;
                case (false, true): trueNegatives++; break;
                default: falsePositives++; break;
            }
        }

        return new QualityRecord(
            0,
            health.Timestamp,
            active.Name,
            active.Version,
            active.ManifestDigest,
            Arms.Control,
            health.EventsScored,
            0.5,
            [],
            [],
            [],
            [],
            [],
            [],
            [],
            [],
            [],
            [],
            null,
            labelled,
            truePositives,
            falsePositives,
            trueNegatives,
            falseNegatives,
            0,
            0,
            0);
    }
}
