using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Core.Telemetry;

/// <summary>Which model version on which arm: the key of per-version telemetry.</summary>
/// <remarks><c>ManifestDigest</c> is the package's manifest digest; null for a model loaded from files.</remarks>
public sealed record ModelArmKey(string ModelName, string ModelVersion, string? ManifestDigest, string Arm);

/// <summary>
/// What one model version did on one arm since the last report: counts, a latency histogram,
/// batch sizes, score and feature statistics and labelled outcomes. Writers call it once per batch
/// (or per feedback message) and it takes its lock once per call. Once the reporter has retired it
/// (idle for a whole interval) every Try method returns false, and the caller asks
/// <see cref="ScoringMetrics.ForModel"/> for the live one: nothing recorded is lost to a retired object.
/// </summary>
public sealed class ModelArmMetrics
{
    private const int BatchBuckets = 32;

    private readonly Lock _gate = new();
    private readonly LatencyHistogram _latency = new();
    private readonly double _sampleRate;
    private readonly int _features;

    private long _scored;
    private long _errors;
    private long _deadLettered;
    private long _dropped;
    private long _batches;
    private long _batchMax;
    private readonly long[] _batchSizes = new long[BatchBuckets];

    private long _scores;
    private double _scoreSum;
    private readonly long[] _scoreHistogram;

    private double _sampleCredit;
    private readonly long[] _featureCount;
    private readonly double[] _featureMean;
    private readonly double[] _featureM2;
    private readonly double[] _featureMin;
    private readonly double[] _featureMax;
    private readonly long[] _deciles;

    private long _labelled;
    private long _truePositives;
    private long _falsePositives;
    private long _trueNegatives;
    private long _falseNegatives;
    private double _errorSum;
    private double _absoluteErrorSum;
    private double _squaredErrorSum;
    private double _logLossSum;
    private double _logLossSquaredSum;
    private readonly long[] _labelledPositive;
    private readonly long[] _labelledNegative;

    private long _compared;
    private long _agreements;
    private long _paired;
    private double _pairedDifferenceSum;
    private double _pairedDifferenceSquaredSum;

    private bool _active;
    private bool _retired;

    /// <param name="key">The version and arm.</param>
    /// <param name="profile">The model's features, bins and task, from its card.</param>
    /// <param name="featureSampleRate">Share of scored events whose features are observed, in (0, 1].</param>
    public ModelArmMetrics(ModelArmKey key, ModelProfile profile, double featureSampleRate)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(featureSampleRate);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(featureSampleRate, 1);
        Key = key;
        Profile = profile;
        _sampleRate = featureSampleRate;
        _features = profile.FeatureNames.Count;
        _scoreHistogram = new long[Math.Max(profile.ScoreEdges.Count - 1, 0)];
        _featureCount = new long[_features];
        _featureMean = new double[_features];
        _featureM2 = new double[_features];
        _featureMin = new double[_features];
        _featureMax = new double[_features];
        _deciles = new long[_features * QualityRecord.DriftBins];
        _labelledPositive = profile.IsClassifier ? new long[QualityRecord.LabelledScoreBins] : [];
        _labelledNegative = profile.IsClassifier ? new long[QualityRecord.LabelledScoreBins] : [];
    }

    public ModelArmKey Key { get; }

    public ModelProfile Profile { get; }

    /// <summary>True once the reporter found it idle for a whole interval; a live object replaces it.</summary>
    public bool IsRetired => Volatile.Read(ref _retired);

    /// <summary>
    /// One run's scored rows: <paramref name="latencies"/> and <paramref name="scores"/> (NaN where the
    /// model gave none) per row, <paramref name="features"/> the rows as bound, one feature per name of
    /// the profile. False when this object was retired; record into the live one instead.
    /// </summary>
    public bool TryRecordRun(ReadOnlySpan<TimeSpan> latencies, ReadOnlySpan<double> scores, ReadOnlySpan<float> features)
    {
        var rows = latencies.Length;
        if (scores.Length != rows || features.Length != rows * _features)
        {
            throw new ArgumentException($"a run of {rows} rows needs {rows} scores and {rows * _features} feature values; got {scores.Length} and {features.Length}", nameof(features));
        }

        lock (_gate)
        {
            if (_retired)
            {
                return false;
            }

            _active = true;
            _scored += rows;
            _batches++;
            _batchMax = Math.Max(_batchMax, rows);
            _batchSizes[Math.Min(PerfRecord.BatchSizeBucket(Math.Max(rows, 1)), BatchBuckets - 1)]++;
            for (var i = 0; i < rows; i++)
            {
                _latency.Record(latencies[i]);
                var score = scores[i];
                if (!double.IsNaN(score))
                {
                    _scores++;
                    _scoreSum += score;
                    if (_scoreHistogram.Length > 0)
                    {
                        _scoreHistogram[Profile.ScoreBinOf(score)]++;
                    }
                }

                _sampleCredit += _sampleRate;
                if (_sampleCredit >= 1)
                {
                    _sampleCredit -= 1;
                    ObserveFeatures(features.Slice(i * _features, _features));
                }
            }

            return true;
        }
    }

    /// <summary>Events that failed in ONNX Runtime on this version and arm.</summary>
    public bool TryRecordErrors(int events) => TryCount(ref _errors, events);

    /// <summary>Events that could not be bound to this version's inputs.</summary>
    public bool TryRecordDeadLettered(int events) => TryCount(ref _deadLettered, events);

    /// <summary>Events a full queue dropped or refused while this version was the control.</summary>
    public bool TryRecordDropped(int events) => TryCount(ref _dropped, events);

    /// <summary>
    /// Shadow mode, on the candidate: <paramref name="compared"/> events both arms scored, on
    /// <paramref name="agreements"/> of which their labels agreed by the engine's rule.
    /// </summary>
    public bool TryRecordComparison(int compared, int agreements)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(agreements);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(agreements, compared);
        lock (_gate)
        {
            if (_retired)
            {
                return false;
            }

            _active = true;
            _compared += compared;
            _agreements += agreements;
            return true;
        }
    }

    /// <summary>
    /// A labelled outcome of one of this version's predictions: a confusion count for a binary
    /// classifier (<paramref name="predictedLabel"/> against <paramref name="label"/> 0 or 1), and when
    /// it gave a <paramref name="probability"/> that prediction's log-loss and labelled histogram bin;
    /// an error for a regression model (<paramref name="predictedValue"/> − <paramref name="label"/>).
    /// <paramref name="pairedDifference"/>: in shadow mode, on the candidate, its loss minus the
    /// control's on the same event (<see cref="Loss"/>); null when the event was not paired.
    /// </summary>
    public bool TryRecordOutcome(bool? predictedLabel, double? predictedValue, double label, double? probability = null, double? pairedDifference = null)
    {
        lock (_gate)
        {
            if (_retired)
            {
                return false;
            }

            _active = true;
            _labelled++;
            if (Profile.IsClassifier)
            {
                var actual = label >= 0.5;
                var predicted = predictedLabel ?? false;
                if (predicted && actual)
                {
                    _truePositives++;
                }
                else if (predicted)
                {
                    _falsePositives++;
                }
                else if (actual)
                {
                    _falseNegatives++;
                }
                else
                {
                    _trueNegatives++;
                }

                if (probability is { } p && !double.IsNaN(p))
                {
                    var loss = QualityRecord.LogLoss(p, actual);
                    _logLossSum += loss;
                    _logLossSquaredSum += loss * loss;
                    (actual ? _labelledPositive : _labelledNegative)[QualityRecord.LabelledScoreBin(p)]++;
                }
            }
            else if (predictedValue is { } value)
            {
                var error = value - label;
                _errorSum += error;
                _absoluteErrorSum += Math.Abs(error);
                _squaredErrorSum += error * error;
            }

            if (pairedDifference is { } difference)
            {
                _paired++;
                _pairedDifferenceSum += difference;
                _pairedDifferenceSquaredSum += difference * difference;
            }

            return true;
        }
    }

    /// <summary>
    /// The interval's perf and quality records (sequence 0, stamped by the spool), and a fresh
    /// interval; null when nothing happened. An object idle for a whole interval is retired here.
    /// </summary>
    public (PerfRecord Perf, QualityRecord Quality)? TakeInterval(DateTimeOffset timestamp, long intervalMs)
    {
        lock (_gate)
        {
            if (!_active)
            {
                Volatile.Write(ref _retired, true);
                return null;
            }

            var perf = new PerfRecord(
                0,
                timestamp,
                intervalMs,
                Key.ModelName,
                Key.ModelVersion,
                Key.ManifestDigest,
                Key.Arm,
                _scored + _errors + _deadLettered + _dropped,
                _scored,
                _errors,
                _deadLettered,
                _dropped,
                _latency.PercentileMs(50),
                _latency.PercentileMs(95),
                _latency.PercentileMs(99),
                _latency.MaxMs,
                _latency.MeanMs,
                _latency.Encode(),
                _batches,
                _batches == 0 ? 0 : (double)_scored / _batches,
                _batchMax,
                _batchSizes.AsSpan(0, LastNonZero(_batchSizes) + 1).ToArray());

            var psi = new double?[_features];
            double? psiMax = null;
            for (var f = 0; f < _features; f++)
            {
                psi[f] = Profile.Bins[f]?.Psi(_deciles.AsSpan(f * QualityRecord.DriftBins, QualityRecord.DriftBins));
                if (psi[f] is { } value && !(psiMax >= value))
                {
                    psiMax = value;
                }
            }

            var quality = new QualityRecord(
                0,
                timestamp,
                Key.ModelName,
                Key.ModelVersion,
                Key.ManifestDigest,
                Key.Arm,
                _scores,
                _scores == 0 ? 0 : _scoreSum / _scores,
                [.. Profile.ScoreEdges],
                [.. _scoreHistogram],
                [.. Profile.FeatureNames],
                [.. _featureCount],
                [.. _featureMean],
                [.. Enumerable.Range(0, _features).Select(f => _featureCount[f] == 0 ? 0 : _featureM2[f] / _featureCount[f])],
                [.. _featureMin],
                [.. _featureMax],
                psi,
                [.. _deciles],
                psiMax,
                _labelled,
                _truePositives,
                _falsePositives,
                _trueNegatives,
                _falseNegatives,
                _errorSum,
                _absoluteErrorSum,
                _squaredErrorSum,
                _logLossSum,
                _logLossSquaredSum,
                [.. _labelledPositive],
                [.. _labelledNegative],
                _compared,
                _agreements,
                _paired,
                _pairedDifferenceSum,
                _pairedDifferenceSquaredSum);

            Reset();
            return (perf, quality);
        }
    }

    private bool TryCount(ref long counter, int events)
    {
        lock (_gate)
        {
            if (_retired)
            {
                return false;
            }

            _active = true;
            counter += events;
            return true;
        }
    }

    /// <summary>Welford's running mean and M2, so the variance stays exact over long intervals of large values.</summary>
    private void ObserveFeatures(ReadOnlySpan<float> row)
    {
        for (var f = 0; f < row.Length; f++)
        {
            double value = row[f];
            var n = ++_featureCount[f];
            if (n == 1)
            {
                _featureMin[f] = value;
                _featureMax[f] = value;
            }
            else
            {
                _featureMin[f] = Math.Min(_featureMin[f], value);
                _featureMax[f] = Math.Max(_featureMax[f], value);
            }

            var delta = value - _featureMean[f];
            _featureMean[f] += delta / n;
            _featureM2[f] += delta * (value - _featureMean[f]);
            if (Profile.Bins[f] is { } bins)
            {
                _deciles[(f * QualityRecord.DriftBins) + bins.BinOf(value)]++;
            }
        }
    }

    private void Reset()
    {
        _active = false;
        _scored = _errors = _deadLettered = _dropped = 0;
        _batches = _batchMax = 0;
        Array.Clear(_batchSizes);
        _latency.Reset();
        _scores = 0;
        _scoreSum = 0;
        Array.Clear(_scoreHistogram);
        Array.Clear(_featureCount);
        Array.Clear(_featureMean);
        Array.Clear(_featureM2);
        Array.Clear(_featureMin);
        Array.Clear(_featureMax);
        Array.Clear(_deciles);
        _labelled = _truePositives = _falsePositives = _trueNegatives = _falseNegatives = 0;
        _errorSum = _absoluteErrorSum = _squaredErrorSum = 0;
        _logLossSum = _logLossSquaredSum = 0;
        Array.Clear(_labelledPositive);
        Array.Clear(_labelledNegative);
        _compared = _agreements = _paired = 0;
        _pairedDifferenceSum = _pairedDifferenceSquaredSum = 0;
    }

    /// <summary>
    /// The loss of one labelled prediction that shadow pairing compares arms by: for a binary
    /// classifier 1 − correct (a missing label reads as negative, as in the confusion counts), for a
    /// regression model |prediction − label|; null when a regression model gave no value.
    /// </summary>
    public static double? Loss(bool classifier, bool? predictedLabel, double? predictedValue, double label) =>
        classifier ? ((predictedLabel ?? false) == (label >= 0.5) ? 0 : 1)
        : predictedValue is { } value ? Math.Abs(value - label)
        : null;

    private static int LastNonZero(long[] counts)
    {
        for (var i = counts.Length - 1; i >= 0; i--)
        {
            if (counts[i] != 0)
            {
                return i;
            }
        }

        return -1;
    }
}
