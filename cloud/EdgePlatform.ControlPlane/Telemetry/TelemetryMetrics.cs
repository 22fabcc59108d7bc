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

    private readonly Meter _meter;
    private readonly Counter<long> _reports;
    private readonly Counter<long> _rejections;
    private readonly Counter<long> _events;
    private readonly Histogram<double> _latencyP99;
    private readonly Counter<long> _transactions;
    private readonly Counter<long> _messages;

    public TelemetryMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _meter = meterFactory.Create(MeterName);
        _reports = _meter.CreateCounter<long>("edgeplatform.telemetry.reports", "{report}", "Telemetry reports received, by outcome (accepted, replayed)");
        _rejections = _meter.CreateCounter<long>("edgeplatform.telemetry.rejections", "{message}", "Telemetry refused, by reason");
        _events = _meter.CreateCounter<long>("edgeplatform.fleet.events", "{event}", "Events handled on devices, by outcome (in, scored, errors, dead_lettered) and model");
        _latencyP99 = _meter.CreateHistogram<double>("edgeplatform.fleet.latency_p99", "ms", "Per-report p99 scoring latency reported by devices");
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
                _latencyP99.Record(record.LatencyP99Ms, model, version);
            }
        }
    }

    /// <summary>Perf and quality records stored for the first time.</summary>
    public void AcceptedPerVersion(int count) => _reports.Add(count, new KeyValuePair<string, object?>("outcome", "accepted"));

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
