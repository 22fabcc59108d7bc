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
    double SquaredErrorSum)
{
    /// <summary>Bins per feature that PSI is computed over: the baseline's deciles.</summary>
    public const int DriftBins = 10;

    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming the first list that does not run parallel to
    /// the one it belongs with; <see cref="QualityArrow"/> refuses to write such a record.
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
        && SquaredErrorSum.Equals(other.SquaredErrorSum);

    public override int GetHashCode() => HashCode.Combine(Sequence, ModelName, ModelVersion, Arm, Scores);
}
