using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Telemetry;

/// <summary>
/// How quality records add up into a minute, and minutes of several devices into one: counts and
/// histograms summed; feature moments combined exactly (Chan et al.'s pairwise update of count,
/// mean and the sum of squared deviations, from the records' population variances); minima and
/// maxima kept; PSI as the largest of the records' (recomputing it needs the card's baseline,
/// which the control plane does not hold per minute). Features are matched by name. Log-loss sums,
/// labelled histograms and shadow pairing counts and sums add like the other counts.
/// </summary>
public static class QualityRollup
{
    /// <summary>A minute holding one record.</summary>
    public static QualityMinute From(QualityRecord record, DateTimeOffset minute)
    {
        ArgumentNullException.ThrowIfNull(record);
        var features = record.FeatureNames.Select((name, i) => new QualityFeatureMinute(
            name,
            record.FeatureCount[i],
            record.FeatureMean[i],
            record.FeatureVariance[i],
            record.FeatureMin[i],
            record.FeatureMax[i],
            record.FeaturePsi[i],
            [.. record.FeatureDecileCounts.Skip(i * QualityRecord.DriftBins).Take(QualityRecord.DriftBins)])).ToList();
        return new QualityMinute(
            minute, record.ModelName, record.ModelVersion, record.Arm, 1, 1, record.Scores, record.ScoreMean,
            record.ScoreBinEdges, record.ScoreHistogram, features, record.DriftPsiMax,
            record.Labelled, record.TruePositives, record.FalsePositives, record.TrueNegatives, record.FalseNegatives,
            record.ErrorSum, record.AbsoluteErrorSum, record.SquaredErrorSum,
            record.LogLossSum, record.LogLossSquaredSum, record.LabelledPositiveHistogram, record.LabelledNegativeHistogram,
            record.Compared, record.Agreements, record.Paired, record.PairedDifferenceSum, record.PairedDifferenceSquaredSum);
    }

    /// <summary>
    /// Two minutes of the same model version and arm as one. <paramref name="sameDevice"/>: both
    /// are of one device (its records within a minute), so the device count does not add.
    /// </summary>
    public static QualityMinute Combine(QualityMinute a, QualityMinute b, bool sameDevice)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var scores = a.Scores + b.Scores;

        // a's features in a's order, then b's new ones in b's.
        var features = new List<QualityFeatureMinute>(a.Features);
        var index = features.Select((f, i) => (f.Name, i)).ToDictionary(x => x.Name, x => x.i, StringComparer.Ordinal);
        foreach (var feature in b.Features)
        {
            if (index.TryGetValue(feature.Name, out var i))
            {
                features[i] = Combine(features[i], feature);
            }
            else
            {
                index[feature.Name] = features.Count;
                features.Add(feature);
            }
        }

        return a with
        {
            Devices = sameDevice ? Math.Max(a.Devices, b.Devices) : a.Devices + b.Devices,
            Records = a.Records + b.Records,
            Scores = scores,
            ScoreMean = scores == 0 ? 0 : ((a.ScoreMean * a.Scores) + (b.ScoreMean * b.Scores)) / scores,
            ScoreBinEdges = a.ScoreBinEdges.Count > 0 ? a.ScoreBinEdges : b.ScoreBinEdges,
            ScoreHistogram = Sum(a.ScoreHistogram, b.ScoreHistogram),
            Features = features,
            DriftPsiMax = Max(a.DriftPsiMax, b.DriftPsiMax),
            Labelled = a.Labelled + b.Labelled,
            TruePositives = a.TruePositives + b.TruePositives,
            FalsePositives = a.FalsePositives + b.FalsePositives,
            TrueNegatives = a.TrueNegatives + b.TrueNegatives,
            FalseNegatives = a.FalseNegatives + b.FalseNegatives,
            ErrorSum = a.ErrorSum + b.ErrorSum,
            AbsoluteErrorSum = a.AbsoluteErrorSum + b.AbsoluteErrorSum,
            SquaredErrorSum = a.SquaredErrorSum + b.SquaredErrorSum,
            LogLossSum = a.LogLossSum + b.LogLossSum,
            LogLossSquaredSum = a.LogLossSquaredSum + b.LogLossSquaredSum,
            LabelledPositiveHistogram = Sum(a.LabelledPositiveHistogram, b.LabelledPositiveHistogram),
            LabelledNegativeHistogram = Sum(a.LabelledNegativeHistogram, b.LabelledNegativeHistogram),
            Compared = a.Compared + b.Compared,
            Agreements = a.Agreements + b.Agreements,
            Paired = a.Paired + b.Paired,
            PairedDifferenceSum = a.PairedDifferenceSum + b.PairedDifferenceSum,
            PairedDifferenceSquaredSum = a.PairedDifferenceSquaredSum + b.PairedDifferenceSquaredSum,
        };
    }

    private static QualityFeatureMinute Combine(QualityFeatureMinute a, QualityFeatureMinute b)
    {
        if (a.Count == 0 || b.Count == 0)
        {
            // Moments come from the side that has values; drift counts and PSI from both.
            return (a.Count == 0 ? b : a) with { PsiMax = Max(a.PsiMax, b.PsiMax), DecileCounts = Sum(a.DecileCounts, b.DecileCounts) };
        }

        var n = a.Count + b.Count;
        var delta = b.Mean - a.Mean;
        var m2 = (a.Variance * a.Count) + (b.Variance * b.Count) + (delta * delta * a.Count * b.Count / n);
        return new QualityFeatureMinute(
            a.Name,
            n,
            a.Mean + (delta * b.Count / n),
            m2 / n,
            Math.Min(a.Min, b.Min),
            Math.Max(a.Max, b.Max),
            Max(a.PsiMax, b.PsiMax),
            Sum(a.DecileCounts, b.DecileCounts));
    }

    private static double? Max(double? a, double? b) => a is null ? b : b is null ? a : Math.Max(a.Value, b.Value);

    /// <summary>Element by element; the shorter list counts as zeros past its end.</summary>
    private static long[] Sum(IReadOnlyList<long> a, IReadOnlyList<long> b) =>
        [.. Enumerable.Range(0, Math.Max(a.Count, b.Count)).Select(i => (i < a.Count ? a[i] : 0) + (i < b.Count ? b[i] : 0))];
}
