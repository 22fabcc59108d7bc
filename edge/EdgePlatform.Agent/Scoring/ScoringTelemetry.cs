using System.Collections.Concurrent;
using EdgePlatform.Agent.Core.Telemetry;
using EdgePlatform.Agent.Inference;
using EdgePlatform.Agent.Inference.Engine;

namespace EdgePlatform.Agent.Scoring;

/// <summary>
/// Hands what the engine observes, run by run, to the per-version telemetry: each run's latencies,
/// scores and bound features to the <see cref="ModelArmMetrics"/> of its version and arm, and each
/// prediction with a correlation id to the <see cref="FeedbackRecorder"/> so a later label can find it,
/// and in shadow mode the engine's comparisons of the two arms to the candidate's metrics.
/// </summary>
public sealed class ScoringTelemetry(ScoringMetrics metrics, FeedbackRecorder feedback) : IScoringObserver
{
    // The metrics each arm fed last, by arm only: a swapped-out version's entry is replaced, not kept.
    private readonly ConcurrentDictionary<string, (ModelIdentity Model, ModelArmMetrics Metrics)> _live = new(StringComparer.Ordinal);

    // Used on the scoring thread only: runs come one at a time.
    private double[] _scores = new double[64];
    private bool?[] _labels = new bool?[64];
    private double?[] _values = new double?[64];
    private double?[] _probabilities = new double?[64];

    public void OnScored(in ScoredRun run)
    {
        var rows = run.Predictions.Length;
        if (_scores.Length < rows)
        {
            _scores = new double[rows];
            _labels = new bool?[rows];
            _values = new double?[rows];
            _probabilities = new double?[rows];
        }

        var target = For(run.Model, run.Arm);
        var classifier = target.Profile.IsClassifier;
        var remember = feedback.IsEnabled;
        var scores = _scores.AsSpan(0, rows);
        for (var i = 0; i < rows; i++)
        {
            var prediction = run.Predictions[i];
            scores[i] = (classifier ? prediction.Probability : prediction.Score) ?? double.NaN;
            if (remember)
            {
                _labels[i] = PredictedLabel(prediction);
                _values[i] = prediction.Score;
                _probabilities[i] = prediction.Probability;
            }
        }

        while (!target.TryRecordRun(run.Latencies, scores, run.Features))
        {
            target = Renew(run.Model, run.Arm);
        }

        if (remember)
        {
            feedback.Remember(run.CorrelationIds, target, _labels.AsSpan(0, rows), _values.AsSpan(0, rows), _probabilities.AsSpan(0, rows));
        }
    }

    public void OnFailed(ScoringModel model, string arm, EventOutcome outcome, int events)
    {
        ArgumentNullException.ThrowIfNull(model);
        var target = For(model, arm);
        while (!(outcome switch
        {
            EventOutcome.ScoringFailed => target.TryRecordErrors(events),
            EventOutcome.Dropped => target.TryRecordDropped(events),
            _ => target.TryRecordDeadLettered(events),
        }))
        {
            target = Renew(model, arm);
        }
    }

    public void OnCompared(ScoringModel model, string arm, int compared, int agreements)
    {
        ArgumentNullException.ThrowIfNull(model);
        var target = For(model, arm);
        while (!target.TryRecordComparison(compared, agreements))
        {
            target = Renew(model, arm);
        }
    }

    /// <summary>The label a binary classifier gave: its label output, else its probability or score read at the usual threshold.</summary>
    private static bool? PredictedLabel(RowPrediction prediction) =>
        prediction.Label ?? (prediction.Probability is { } probability ? probability >= 0.5f : prediction.Score is { } score ? score > 0 : null);

    private ModelArmMetrics For(ScoringModel model, string arm) =>
        _live.TryGetValue(arm, out var live) && live.Model == model.Identity && !live.Metrics.IsRetired ? live.Metrics : Renew(model, arm);

    private ModelArmMetrics Renew(ScoringModel model, string arm)
    {
        var identity = model.Identity;
        var key = new ModelArmKey(identity.Name, identity.Version, identity.ManifestDigest, arm);
        var live = metrics.ForModel(key, () => new Core.Telemetry.ModelProfile(model.Card, model.Binder.Fields));
        _live[arm] = (identity, live);
        return live;
    }
}
