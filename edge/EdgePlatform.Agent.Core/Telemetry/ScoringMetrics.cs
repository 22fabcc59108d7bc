using System.Collections.Concurrent;
using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Core.Telemetry;

/// <summary>
/// Counts what the scoring path does: the device's totals over every model version and arm (for
/// health), and per version and arm a <see cref="ModelArmMetrics"/> (for perf and quality).
/// Interval counters are taken and reset by the telemetry reporter, so each report carries
/// exactly the events of its interval; totals only grow.
/// </summary>
public sealed class ScoringMetrics
{
    private readonly Lock _gate = new();
    private readonly LatencyHistogram _latency = new();
    private readonly ConcurrentDictionary<ModelArmKey, ModelArmMetrics> _models = new();
    private readonly double _featureSampleRate;
    private long _received;
    private long _scored;
    private long _errors;
    private long _deadLettered;
    private long _dropped;
    private long _feedbackUnmatched;
    private long _feedbackMalformed;

    public ScoringMetrics()
        : this(1)
    {
    }

    /// <param name="featureSampleRate">Share of scored events whose features feed the quality statistics, in (0, 1].</param>
    public ScoringMetrics(double featureSampleRate)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(featureSampleRate);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(featureSampleRate, 1);
        _featureSampleRate = featureSampleRate;
    }

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
            _latency.Record(latency);
        }
    }

    /// <summary>An event ONNX Runtime failed on.</summary>
    public void RecordError()
    {
        lock (_gate)
        {
            _errors++;
            TotalErrors++;
        }
    }

    /// <summary>An event a full queue dropped or refused: an error, and counted apart as dropped.</summary>
    public void RecordDropped()
    {
        lock (_gate)
        {
            _errors++;
            _dropped++;
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

    /// <summary>Feedback that named no prediction this device still remembers.</summary>
    public void RecordFeedbackUnmatched() => Interlocked.Increment(ref _feedbackUnmatched);

    /// <summary>Feedback that could not be read, or whose label does not fit the model.</summary>
    public void RecordFeedbackMalformed() => Interlocked.Increment(ref _feedbackMalformed);

    /// <summary>
    /// The live metrics of a version and arm, made from <paramref name="profile"/> on first use (or
    /// when the reporter retired the previous one for idleness).
    /// </summary>
    public ModelArmMetrics ForModel(ModelArmKey key, Func<ModelProfile> profile)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(profile);
        return _models.AddOrUpdate(
            key,
            static (k, state) => new ModelArmMetrics(k, state.Profile(), state.Rate),
            static (k, existing, state) => existing.IsRetired ? new ModelArmMetrics(k, existing.Profile, state.Rate) : existing,
            (Profile: profile, Rate: _featureSampleRate));
    }

    public ScoringInterval TakeInterval()
    {
        lock (_gate)
        {
            var interval = new ScoringInterval(_received, _scored, _errors, _deadLettered, _latency.PercentileMs(50), _latency.PercentileMs(99), _latency.MaxMs)
            {
                LatencyP95Ms = _latency.PercentileMs(95),
                Dropped = _dropped,
                FeedbackUnmatched = Interlocked.Exchange(ref _feedbackUnmatched, 0),
                FeedbackMalformed = Interlocked.Exchange(ref _feedbackMalformed, 0),
            };
            _latency.Reset();
            _received = _scored = _errors = _deadLettered = _dropped = 0;
            return interval;
        }
    }

    /// <summary>
    /// The perf and quality records of every version and arm that saw events since the last call,
    /// and a fresh interval for each; versions idle for a whole interval are dropped.
    /// </summary>
    public IReadOnlyList<(PerfRecord Perf, QualityRecord Quality)> TakeModelIntervals(DateTimeOffset timestamp, long intervalMs)
    {
        var result = new List<(PerfRecord, QualityRecord)>();
        foreach (var (key, metrics) in _models)
        {
            if (metrics.TakeInterval(timestamp, intervalMs) is { } records)
            {
                result.Add(records);
            }
            else
            {
                _models.TryRemove(new KeyValuePair<ModelArmKey, ModelArmMetrics>(key, metrics));
            }
        }

        return result;
    }
}

public sealed record ScoringInterval(long Received, long Scored, long Errors, long DeadLettered, double LatencyP50Ms, double LatencyP99Ms, double LatencyMaxMs)
{
    public double LatencyP95Ms { get; init; }

    /// <summary>The part of <see cref="Errors"/> that a full queue dropped or refused.</summary>
    public long Dropped { get; init; }

    public long FeedbackUnmatched { get; init; }

    public long FeedbackMalformed { get; init; }
}
