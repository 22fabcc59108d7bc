using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Core.Telemetry;

/// <summary>
/// What quality telemetry needs to know of a model, from its card: its task, its features in the
/// order they are bound, each feature's drift bins, and the bins of its score histogram.
/// </summary>
public sealed class ModelProfile
{
    private static readonly double[] ProbabilityEdges = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];

    public ModelProfile(ModelCard card, IReadOnlyList<string> featureNames)
    {
        ArgumentNullException.ThrowIfNull(card);
        ArgumentNullException.ThrowIfNull(featureNames);
        Task = card.Task;
        FeatureNames = featureNames;
        var baselines = (card.Baseline ?? []).GroupBy(b => b.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        Bins = [.. featureNames.Select(name => baselines.TryGetValue(name, out var baseline) ? DriftBins.From(baseline) : null)];
        ScoreEdges = IsClassifier
            ? ProbabilityEdges
            : baselines.TryGetValue(PredictionFields.Score, out var score) && DriftBins.From(score) is { } scoreBins && score.DecileEdges is not null
                ? [score.Min, .. scoreBins.Edges, score.Max]
                : [];
    }

    public string Task { get; }

    public bool IsClassifier => string.Equals(Task, ModelTasks.BinaryClassification, StringComparison.Ordinal);

    public IReadOnlyList<string> FeatureNames { get; }

    /// <summary>Per feature, its drift bins; null for a feature the card has no baseline for.</summary>
    public IReadOnlyList<DriftBins?> Bins { get; }

    /// <summary>Edges of the score histogram (<see cref="QualityRecord.ScoreBinEdges"/>); empty when there is none.</summary>
    public IReadOnlyList<double> ScoreEdges { get; }

    /// <summary>The score histogram bin of <paramref name="score"/>; ends take what lies beyond them.</summary>
    public int ScoreBinOf(double score)
    {
        var bins = ScoreEdges.Count - 1;
        if (IsClassifier)
        {
            return Math.Clamp((int)(score * bins), 0, bins - 1);
        }

        var bin = 0;
        while (bin < bins - 1 && score >= ScoreEdges[bin + 1])
        {
            bin++;
        }

        return bin;
    }
}
