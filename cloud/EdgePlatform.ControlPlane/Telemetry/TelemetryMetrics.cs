using System.Diagnostics.Metrics;
using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Telemetry;

/// <summary>
/// Fleet aggregates as .NET metrics (meter <see cref="MeterName"/>), for any exporter the host
/// wires; the server exposes them in Prometheus format at <c>/metrics</c>. Event counters add only
/// reports stored for the first time, so they agree with the stored sums.
/// </summary>
public sealed class TelemetryMetrics : IDisposable
{
    public const string MeterName = "EdgePlatform.Telemetry";

    /// <summary>Devices measure in milliseconds; Prometheus wants latencies in seconds.</summary>
    private const double MillisecondsPerSecond = 1000;

    /// <summary>Scoring latency bucket bounds in seconds: 0.1 ms to 5 s, finest where models usually score.</summary>
    private static readonly double[] LatencyBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];

    private readonly Meter _meter;
    private readonly Counter<long> _reports;
    private readonly Counter<long> _rejections;
    private readonly Counter<long> _events;
    private readonly Histogram<double> _tailLatency;
    private readonly Counter<long> _versionEvents;
    private readonly Histogram<double> _latency;
    private readonly Counter<long> _labelled;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Model, string Version, string Device), double> _latestPsi = new();
    private readonly Counter<long> _transactions;
    private readonly Counter<long> _messages;

    private readonly Leases.ReplicaLeases? _leases;

    /// <param name="meterFactory">Creates the meter the instruments live on.</param>
    /// <param name="leases">
    /// Every replica hears every device's quality reports, so the fleet's drift gauge is observed
    /// only on the replica holding the fleet-metrics lease; null, the one replica observes it.
    /// </param>
    public TelemetryMetrics(IMeterFactory meterFactory, Leases.ReplicaLeases? leases = null)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _leases = leases;
        leases?.Want(Leases.LeaseNames.FleetMetrics);
        _meter = meterFactory.Create(MeterName);
        _reports = _meter.CreateCounter<long>("edgeplatform.telemetry.reports", "{report}", "Telemetry reports received, by outcome (accepted, replayed)");
        _rejections = _meter.CreateCounter<long>("edgeplatform.telemetry.rejections", "{message}", "Telemetry refused, by reason");
        _events = _meter.CreateCounter<long>("edgeplatform.fleet.events", "{event}", "Events handled on devices, by outcome (in, scored, errors, dead_lettered) and model");
        _tailLatency = _meter.CreateHistogram(
            "edgeplatform.fleet.tail_latency",
            "s",
            "Each report's 99th-percentile scoring latency as its device measured it",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        _versionEvents = _meter.CreateCounter<long>(
            "edgeplatform.model.events", "{event}", "Events per model version and arm, by outcome (in, scored, errors, dead_lettered, dropped), from perf telemetry");
        _latency = _meter.CreateHistogram(
            "edgeplatform.model.latency",
            "s",
            "Every scoring latency devices recorded, per model version and arm, from their merged HdrHistograms",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        _labelled = _meter.CreateCounter<long>(
            "edgeplatform.model.labelled", "{prediction}", "Predictions matched by labelled feedback, per model version and arm, by outcome (correct, incorrect); accuracy is correct over both");
        _meter.CreateObservableGauge(
            "edgeplatform.model.drift_psi_max",
            ObserveDrift,
            "{psi}",
            "Largest feature PSI per model version, over each device's latest quality report");
        _transactions = _meter.CreateCounter<long>("edgeplatform.telemetry.ingest_transactions", "{transaction}", "Store transactions telemetry was ingested in");
        _messages = _meter.CreateCounter<long>("edgeplatform.telemetry.ingest_messages", "{message}", "Broker messages of telemetry ingested, each in one of the transactions");
    }

    public void Accepted(IReadOnlyList<TelemetryRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        _reports.Add(records.Count, new KeyValuePair<string, object?>("outcome", "accepted"));
        foreach (var record in records)
        {
            var model = new KeyValuePair<string, object?>("model", record.ModelName ?? "none");
            var version = new KeyValuePair<string, object?>("model_version", record.ModelVersion ?? "none");
            _events.Add(record.EventsIn, new("outcome", "in"), model, version);
            _events.Add(record.EventsScored, new("outcome", "scored"), model, version);
            _events.Add(record.Errors, new("outcome", "errors"), model, version);
            _events.Add(record.DeadLettered, new("outcome", "dead_lettered"), model, version);
            if (record.EventsScored > 0)
            {
                _tailLatency.Record(record.LatencyP99Ms / MillisecondsPerSecond, model, version);
            }
        }
    }

    /// <summary>
    /// Perf records stored for the first time: events per version and arm, and every latency in
    /// their histograms, as ingest read them (<paramref name="latencies"/>, by record).
    /// </summary>
    public void Accepted(IReadOnlyList<PerfRecord> records, IReadOnlyDictionary<PerfRecord, IReadOnlyList<(double Ms, long Count)>> latencies)
    {
        ArgumentNullException.ThrowIfNull(records);
        _reports.Add(records.Count, new KeyValuePair<string, object?>("outcome", "accepted"));
        foreach (var record in records)
        {
            var model = new KeyValuePair<string, object?>("model", record.ModelName);
            var version = new KeyValuePair<string, object?>("model_version", record.ModelVersion);
            var arm = new KeyValuePair<string, object?>("arm", record.Arm);
            _versionEvents.Add(record.EventsIn, new("outcome", "in"), model, version, arm);
            _versionEvents.Add(record.EventsScored, new("outcome", "scored"), model, version, arm);
            _versionEvents.Add(record.Errors, new("outcome", "errors"), model, version, arm);
            _versionEvents.Add(record.DeadLettered, new("outcome", "dead_lettered"), model, version, arm);
            _versionEvents.Add(record.Dropped, new("outcome", "dropped"), model, version, arm);
            foreach (var (ms, count) in latencies.GetValueOrDefault(record) ?? [])
            {
                var seconds = ms / MillisecondsPerSecond;
                // Buckets add up like the histograms they come from, so a p99 over any span of the
                // fleet is read from every latency, not from devices' own p99s.
                for (var i = 0; i < count; i++)
                {
                    _latency.Record(seconds, model, version, arm);
                }
            }
        }
    }

    /// <summary>Quality records stored for the first time: labelled outcomes, and each device's latest drift.</summary>
    public void Accepted(IReadOnlyList<QualityRecord> records, string deviceId)
    {
        ArgumentNullException.ThrowIfNull(records);
        _reports.Add(records.Count, new KeyValuePair<string, object?>("outcome", "accepted"));
        foreach (var record in records)
        {
            var model = new KeyValuePair<string, object?>("model", record.ModelName);
            var version = new KeyValuePair<string, object?>("model_version", record.ModelVersion);
            var arm = new KeyValuePair<string, object?>("arm", record.Arm);
            _labelled.Add(record.TruePositives + record.TrueNegatives, new("outcome", "correct"), model, version, arm);
            _labelled.Add(record.FalsePositives + record.FalseNegatives, new("outcome", "incorrect"), model, version, arm);
            if (record.DriftPsiMax is { } psi)
            {
                _latestPsi[(record.ModelName, record.ModelVersion, deviceId)] = psi;
            }
        }
    }

    private IEnumerable<Measurement<double>> ObserveDrift() =>
        _leases is not null && !_leases.Holds(Leases.LeaseNames.FleetMetrics) ? [] : _latestPsi
            .GroupBy(p => (p.Key.Model, p.Key.Version))
            .Select(g => new Measurement<double>(
                g.Max(p => p.Value),
                new KeyValuePair<string, object?>("model", g.Key.Model),
                new KeyValuePair<string, object?>("model_version", g.Key.Version)));

    /// <summary>One store transaction that held <paramref name="messages"/> broker messages; their ratio is the mean batch.</summary>
    public void Committed(int messages)
    {
        _transactions.Add(1);
        _messages.Add(messages);
    }

    public void Replayed(int count) => _reports.Add(count, new KeyValuePair<string, object?>("outcome", "replayed"));

    public void Rejected(string reason) => _rejections.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Dispose() => _meter.Dispose();
}
