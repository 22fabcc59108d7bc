namespace EdgePlatform.Agent.Core.Telemetry;

/// <summary>
/// Counts what the scoring path does. Interval counters are taken and reset by the telemetry
/// reporter, so each report carries exactly the events of its interval; totals only grow.
/// </summary>
public sealed class ScoringMetrics
{
    /// <summary>Latency samples kept per interval; beyond it, every other sample is kept (a coarse but bounded reservoir).</summary>
    private const int MaxSamples = 65_536;

    private readonly Lock _gate = new();
    private List<double> _latenciesMs = new(1024);
    private long _received;
    private long _scored;
    private long _errors;
    private long _deadLettered;
    private long _sampleStride = 1;
    private long _sampleCounter;
    private double _maxLatencyMs;

    public long TotalReceived { get; private set; }

    public long TotalScored { get; private set; }

    public long TotalErrors { get; private set; }

    public long TotalDeadLettered { get; private set; }

    public void RecordReceived()
    {
        lock (_gate)
        {
            _received++;
            TotalReceived++;
        }
    }

    public void RecordScored(TimeSpan latency)
    {
        lock (_gate)
        {
            _scored++;
            TotalScored++;
            // The maximum is tracked apart from the sampled latencies, so no outlier is thinned away.
            _maxLatencyMs = Math.Max(_maxLatencyMs, latency.TotalMilliseconds);
            if (++_sampleCounter % _sampleStride == 0)
            {
                _latenciesMs.Add(latency.TotalMilliseconds);
                if (_latenciesMs.Count >= MaxSamples)
                {
                    _latenciesMs = [.. _latenciesMs.Where((_, i) => i % 2 == 0)];
                    _sampleStride *= 2;
                }
            }
        }
    }

    public void RecordError()
    {
        lock (_gate)
        {
            _errors++;
            TotalErrors++;
        }
    }

    public void RecordDeadLettered()
    {
        lock (_gate)
        {
            _deadLettered++;
            TotalDeadLettered++;
        }
    }

    public ScoringInterval TakeInterval()
    {
        List<double> latencies;
        ScoringInterval interval;
        lock (_gate)
        {
            latencies = _latenciesMs;
            interval = new ScoringInterval(_received, _scored, _errors, _deadLettered, 0, 0, _maxLatencyMs);
            _maxLatencyMs = 0;
            _latenciesMs = new List<double>(Math.Max(1024, latencies.Count));
            _received = _scored = _errors = _deadLettered = 0;
            _sampleStride = 1;
            _sampleCounter = 0;
        }

        if (latencies.Count == 0)
        {
            return interval;
        }

        latencies.Sort();
        return interval with
        {
            LatencyP50Ms = Percentile(latencies, 0.50),
            LatencyP95Ms = Percentile(latencies, 0.95),
            LatencyP99Ms = Percentile(latencies, 0.99),
        };
    }

    private static double Percentile(List<double> sorted, double quantile) =>
        sorted[Math.Clamp((int)Math.Ceiling(quantile * sorted.Count) - 1, 0, sorted.Count - 1)];
}

public sealed record ScoringInterval(long Received, long Scored, long Errors, long DeadLettered, double LatencyP50Ms, double LatencyP99Ms, double LatencyMaxMs)
{
    public double LatencyP95Ms { get; init; }
}
