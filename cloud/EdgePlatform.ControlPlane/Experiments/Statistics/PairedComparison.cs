namespace EdgePlatform.ControlPlane.Experiments.Statistics;

/// <summary>
/// Shadow mode: every arm scores the same events, so the comparison is of per-event differences
/// (treatment − control), the events being the units. Pairing removes the events' own variation
/// from the comparison, which is why a shadow experiment needs far fewer events than a split one.
/// </summary>
public static class PairedComparison
{
    public const string PairedT = "paired-t";

    /// <summary>
    /// Mean paired difference (treatment − control) with its interval: a confidence sequence over
    /// the events when <see cref="TestOptions.Sequential"/>, else Student's t with n − 1 degrees of
    /// freedom. The result's control value is 0 and its treatment value the mean difference: the
    /// two arms' own levels are not in the differences.
    /// </summary>
    public static EffectInterval Compare(SampleMoments differences, TestOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (differences.Count < 2)
        {
            throw new InvalidOperationException($"a paired comparison needs at least two paired events (got {differences.Count})");
        }

        var n = differences.Count;
        var mean = differences.Mean;
        var variance = differences.Variance / n;
        var se = Math.Sqrt(variance);
        var alpha = options.ComparisonAlpha;
        double halfWidth, p;
        if (options.Sequential)
        {
            halfWidth = ConfidenceSequence.HalfWidth(variance, n, alpha, options.SequentialTuning);
            p = ConfidenceSequence.PValue(mean, variance, n, options.SequentialTuning);
        }
        else
        {
            halfWidth = Distributions.StudentTQuantile(1 - (alpha / 2), n - 1) * se;
            p = se > 0 ? 2 * Distributions.StudentTSurvival(Math.Abs(mean) / se, n - 1) : (mean == 0 ? 1 : 0);
        }

        p = Math.Min(1, p * Math.Max(1, options.Comparisons));
        return new EffectInterval(
            PairedT, EffectScale.Absolute, 0, mean, mean, se, mean - halfWidth, mean + halfWidth, p, options.Sequential, 1 - alpha,
            options.Sequential ? null : n - 1);
    }
}
