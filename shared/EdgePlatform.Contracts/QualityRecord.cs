namespace EdgePlatform.Contracts;

/// <summary>
/// What one model version said on one experiment arm of a device during one telemetry interval,
/// and how its inputs compare with its training data (kind <see cref="TelemetryKinds.Quality"/>):
/// one record per (version, arm) that scored events, each with its own sequence number from the
/// device's one sequence. Counters are per interval.
/// </summary>
/// <remarks>
/// <para><c>ManifestDigest</c>: As in <see cref="PerfRecord.ManifestDigest"/>.</para>
/// <para><c>Scores</c>: Predictions counted in the score statistics.</para>
/// <para><c>ScoreMean</c>: Mean of the predictions' score: the probability for binary classification, the predicted value for regression.</para>
/// <para><c>ScoreBinEdges</c>: 
/// Edges of <see cref="ScoreHistogram"/>'s bins, one more than the bins: bin i holds scores in
/// [edge i, edge i+1), the last bin includes its upper edge, and scores beyond the ends count in the
/// end bins. Binary classification: ten equal bins of the probability over [0, 1]. Regression: the
/// deciles of the card's <c>score</c> baseline. Both lists are empty when neither applies.
/// </para>
/// <para><c>FeatureNames</c>: The model's features in input order; every feature list below runs parallel to it.</para>
/// <para><c>FeatureCount</c>: Values of each feature observed. Feature statistics may be computed on a sample of events; this is exactly how many were observed.</para>
/// <para><c>FeatureVariance</c>: Population variance (M2 / n) of the observed values, so moments of several records combine exactly.</para>
/// <para><c>FeatureMin</c>: Smallest observed value; 0 when none was observed (as are mean, variance and max).</para>
/// <para><c>FeaturePsi</c>: 
/// Population stability index of the observed values against the card's baseline, over
/// <see cref="DriftBins"/> bins; null when the card has no baseline for the feature or nothing was
/// observed. The formula, bins and smoothing are in the README ("Telemetry and store-and-forward").
/// </para>
/// <para><c>FeatureDecileCounts</c>: 
/// Feature-major, <see cref="DriftBins"/> per feature: the observed values counted in the baseline's
/// bins, so PSI can be recomputed over any span of records and devices by adding counts.
/// </para>
/// <para><c>DriftPsiMax</c>: The largest of <see cref="FeaturePsi"/>; null when there is none.</para>
/// <para><c>Labelled</c>: Predictions matched by labelled feedback in the interval.</para>
/// <para><c>ErrorSum</c>: Regression: sum of prediction − label over labelled predictions; with the absolute and squared sums, zero for classification.</para>
/// <para><c>LogLossSum</c>: 
/// Binary classification: sum over labelled predictions that gave a probability of −ln(the
/// probability the model gave the true label), the probability clamped to [1e-15, 1 − 1e-15]
/// (<see cref="LogLoss"/>); <c>LogLossSquaredSum</c> sums the squares, for the variance. How many
/// predictions they cover is the total of the two labelled histograms. Zero for other tasks.
/// </para>
/// <para><c>LabelledPositiveHistogram</c>: 
/// Binary classification: the probabilities of labelled predictions whose label was positive,
/// counted in <see cref="LabelledScoreBins"/> equal bins over [0, 1] (<see cref="LabelledScoreBin"/>);
/// <c>LabelledNegativeHistogram</c> the same for negative labels. AUC over any span of records and
/// devices is computed from the summed counts. Both empty for other tasks.
/// </para>
/// <para><c>Compared</c>: 
/// Shadow mode, on the candidate's record: events both arms scored whose predicted labels were
/// compared; <c>Agreements</c> those on which the labels agreed (the engine's one agreement rule).
/// Zero on the control's record and outside shadow mode.
/// </para>
/// <para><c>Paired</c>: 
/// Shadow mode, on the candidate's record: labelled events that both arms predicted.
/// <c>PairedDifferenceSum</c> sums, per such event, the candidate's loss minus the control's (binary
/// classification: 1 − correct; regression: |error|), so a negative mean says the candidate is better;
/// <c>PairedDifferenceSquaredSum</c> sums the squares, for the paired test's variance.
/// </para>
/// </remarks>
public sealed record QualityRecord(
    long Sequence,
    DateTimeOffset Timestamp,
    string ModelName,
    string ModelVersion,
    string? ManifestDigest,
    string Arm,
    long Scores,
    double ScoreMean,
    IReadOnlyList<double> ScoreBinEdges,
    IReadOnlyList<long> ScoreHistogram,
    IReadOnlyList<string> FeatureNames,
    IReadOnlyList<long> FeatureCount,
    IReadOnlyList<double> FeatureMean,
    IReadOnlyList<double> FeatureVariance,
    IReadOnlyList<double> FeatureMin,
    IReadOnlyList<double> FeatureMax,
    IReadOnlyList<double?> FeaturePsi,
    IReadOnlyList<long> FeatureDecileCounts,
    double? DriftPsiMax,
    long Labelled,
    long TruePositives,
    long FalsePositives,
    long TrueNegatives,
    long FalseNegatives,
    double ErrorSum,
    double AbsoluteErrorSum,
    double SquaredErrorSum,
    double LogLossSum = 0,
    double LogLossSquaredSum = 0,
    IReadOnlyList<long>? LabelledPositiveHistogram = null,
    IReadOnlyList<long>? LabelledNegativeHistogram = null,
    long Compared = 0,
    long Agreements = 0,
    long Paired = 0,
    double PairedDifferenceSum = 0,
    double PairedDifferenceSquaredSum = 0)
{
    /// <summary>Bins per feature that PSI is computed over: the baseline's deciles.</summary>
    public const int DriftBins = 10;

    /// <summary>Equal bins over [0, 1] that labelled probabilities are counted in, by label, for AUC.</summary>
    public const int LabelledScoreBins = 100;

    /// <summary>The bound log-loss keeps a probability from, so a confident miss costs about 34.5 rather than infinity.</summary>
    public const double LogLossEpsilon = 1e-15;

    /// <summary>Labelled positive predictions' probabilities in <see cref="LabelledScoreBins"/> bins; empty unless binary classification.</summary>
    public IReadOnlyList<long> LabelledPositiveHistogram { get; init; } = LabelledPositiveHistogram ?? [];

    /// <summary>Labelled negative predictions' probabilities in <see cref="LabelledScoreBins"/> bins; empty unless binary classification.</summary>
    public IReadOnlyList<long> LabelledNegativeHistogram { get; init; } = LabelledNegativeHistogram ?? [];

    /// <summary>
    /// The bin of <see cref="LabelledPositiveHistogram"/> and <see cref="LabelledNegativeHistogram"/>
    /// that <paramref name="probability"/> counts in: bin i holds [i / 100, (i + 1) / 100), the last
    /// bin includes 1, and values beyond [0, 1] count in the end bins.
    /// </summary>
    public static int LabelledScoreBin(double probability) =>
        probability >= 1 ? LabelledScoreBins - 1 : probability <= 0 || double.IsNaN(probability) ? 0 : Math.Min((int)(probability * LabelledScoreBins), LabelledScoreBins - 1);

    /// <summary>−ln of the probability given the true label (<paramref name="positive"/>), clamped to [<see cref="LogLossEpsilon"/>, 1 − <see cref="LogLossEpsilon"/>].</summary>
    public static double LogLoss(double probabilityOfPositive, bool positive)
    {
        var p = positive ? probabilityOfPositive : 1 - probabilityOfPositive;
        return -Math.Log(Math.Clamp(p, LogLossEpsilon, 1 - LogLossEpsilon));
    }

    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming the first list that does not run parallel to
    /// the one it belongs with (or a labelled histogram not <see cref="LabelledScoreBins"/> long, or
    /// more agreements than comparisons); <see cref="QualityArrow"/> refuses to write such a record.
    /// </summary>
    public void ValidateShape()
    {
        var features = FeatureNames.Count;
        Check(FeatureCount.Count, features, "feature_count");
        Check(FeatureMean.Count, features, "feature_mean");
        Check(FeatureVariance.Count, features, "feature_variance");
        Check(FeatureMin.Count, features, "feature_min");
        Check(FeatureMax.Count, features, "feature_max");
        Check(FeaturePsi.Count, features, "feature_psi");
        Check(FeatureDecileCounts.Count, features * DriftBins, "feature_decile_counts");
        if (ScoreHistogram.Count > 0 || ScoreBinEdges.Count > 0)
        {
            Check(ScoreBinEdges.Count, ScoreHistogram.Count + 1, "score_bin_edges");
        }

        if (LabelledPositiveHistogram.Count > 0 || LabelledNegativeHistogram.Count > 0)
        {
            Check(LabelledPositiveHistogram.Count, LabelledScoreBins, "labelled_positive_histogram");
            Check(LabelledNegativeHistogram.Count, LabelledScoreBins, "labelled_negative_histogram");
        }

        if (Agreements > Compared)
        {
            throw new ArgumentException($"agreements is {Agreements}, more than the {Compared} compared", nameof(QualityRecord));
        }

        void Check(int actual, int expected, string column)
        {
            if (actual != expected)
            {
                throw new ArgumentException($"{column} has {actual} element(s), expected {expected}", nameof(QualityRecord));
            }
        }
    }

    public bool Equals(QualityRecord? other) =>
        other is not null
        && Sequence == other.Sequence
        && Timestamp == other.Timestamp
        && string.Equals(ModelName, other.ModelName, StringComparison.Ordinal)
        && string.Equals(ModelVersion, other.ModelVersion, StringComparison.Ordinal)
        && string.Equals(ManifestDigest, other.ManifestDigest, StringComparison.Ordinal)
        && string.Equals(Arm, other.Arm, StringComparison.Ordinal)
        && Scores == other.Scores
        && ScoreMean.Equals(other.ScoreMean)
        && ScoreBinEdges.SequenceEqual(other.ScoreBinEdges)
        && ScoreHistogram.SequenceEqual(other.ScoreHistogram)
        && FeatureNames.SequenceEqual(other.FeatureNames, StringComparer.Ordinal)
        && FeatureCount.SequenceEqual(other.FeatureCount)
        && FeatureMean.SequenceEqual(other.FeatureMean)
        && FeatureVariance.SequenceEqual(other.FeatureVariance)
        && FeatureMin.SequenceEqual(other.FeatureMin)
        && FeatureMax.SequenceEqual(other.FeatureMax)
        && FeaturePsi.SequenceEqual(other.FeaturePsi)
        && FeatureDecileCounts.SequenceEqual(other.FeatureDecileCounts)
        && Nullable.Equals(DriftPsiMax, other.DriftPsiMax)
        && Labelled == other.Labelled
        && TruePositives == other.TruePositives
        && FalsePositives == other.FalsePositives
        && TrueNegatives == other.TrueNegatives
        && FalseNegatives == other.FalseNegatives
        && ErrorSum.Equals(other.ErrorSum)
        && AbsoluteErrorSum.Equals(other.AbsoluteErrorSum)
        && SquaredErrorSum.Equals(other.SquaredErrorSum)
        && LogLossSum.Equals(other.LogLossSum)
        && LogLossSquaredSum.Equals(other.LogLossSquaredSum)
        && LabelledPositiveHistogram.SequenceEqual(other.LabelledPositiveHistogram)
        && LabelledNegativeHistogram.SequenceEqual(other.LabelledNegativeHistogram)
        && Compared == other.Compared
        && Agreements == other.Agreements
        && Paired == other.Paired
        && PairedDifferenceSum.Equals(other.PairedDifferenceSum)
        && PairedDifferenceSquaredSum.Equals(other.PairedDifferenceSquaredSum);

    public override int GetHashCode() => HashCode.Combine(Sequence, ModelName, ModelVersion, Arm, Scores);
}
