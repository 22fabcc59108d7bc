namespace EdgePlatform.ControlPlane.Experiments.Statistics;

/// <summary>Whether a difference is reported as treatment − control or as treatment / control − 1.</summary>
public enum EffectScale
{
    Absolute,
    Relative,
}

/// <summary>
/// How intervals are drawn: the error rate <see cref="Alpha"/>, shared (Bonferroni) among
/// <see cref="Comparisons"/> comparisons of one experiment; <see cref="Sequential"/>: an
/// anytime-valid confidence sequence (<see cref="ConfidenceSequence"/>) instead of a fixed-horizon
/// interval, tightest near <see cref="SequentialTuning"/> units in all.
/// </summary>
public sealed record TestOptions
{
    public double Alpha { get; init; } = 0.05;

    public bool Sequential { get; init; } = true;

    /// <summary>GrowthBook's default tuning parameter.</summary>
    public double SequentialTuning { get; init; } = 5000;

    public int Comparisons { get; init; } = 1;

    /// <summary>The error rate each comparison gets.</summary>
    public double ComparisonAlpha => Alpha / Math.Max(1, Comparisons);

    public void Validate()
    {
        if (!(Alpha is > 0 and < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, "alpha must be between 0 and 1");
        }

        if (!(SequentialTuning > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(SequentialTuning), SequentialTuning, "the sequential tuning parameter must be positive");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Comparisons);
    }
}

/// <summary>
/// One comparison's result: both arms' values, the estimate on <see cref="Scale"/> with its
/// standard error and interval at <see cref="Level"/> (1 − the comparison's alpha), the p-value
/// (anytime-valid when <see cref="Sequential"/>), and the test that produced it.
/// </summary>
public sealed record EffectInterval(
    string Test,
    EffectScale Scale,
    double ControlValue,
    double TreatmentValue,
    double Estimate,
    double StandardError,
    double Lower,
    double Upper,
    double PValue,
    bool Sequential,
    double Level,
    double? DegreesOfFreedom)
{
    /// <summary>The interval excludes no difference.</summary>
    public bool Significant => Lower > 0 || Upper < 0;
}

/// <summary>
/// Two-arm tests on sufficient statistics, in the frequentist engine's form that GrowthBook
/// publishes (packages/stats/gbstats/frequentist/tests.py): the absolute difference has variance
/// v_t/n_t + v_c/n_c; the relative one, by the delta method,
/// v_t/(μ_c² n_t) + v_c μ_t²/(μ_c⁴ n_c).
/// </summary>
public static class TwoSampleTests
{
    public const string WelchT = "welch-t";
    public const string TwoProportionZ = "two-proportion-z";
    public const string DeltaMethod = "delta-method";

    /// <summary>Welch's t for a difference in means; the fixed-horizon interval uses the Welch–Satterthwaite degrees of freedom.</summary>
    public static EffectInterval Welch(SampleMoments control, SampleMoments treatment, EffectScale scale, TestOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        RequireUnits(control.Count, treatment.Count);
        var a = treatment.Variance / treatment.Count;
        var b = control.Variance / control.Count;
        var denominator = (treatment.Count > 1 ? a * a / (treatment.Count - 1) : 0) + (control.Count > 1 ? b * b / (control.Count - 1) : 0);
        var dof = denominator > 0 ? (a + b) * (a + b) / denominator : double.PositiveInfinity;
        return Compare(WelchT, control.Mean, control.Variance, control.Count, treatment.Mean, treatment.Variance, treatment.Count, scale, options, dof);
    }

    /// <summary>
    /// The two-proportion z test for a difference in rates: the interval from each arm's own
    /// variance p(1 − p), the fixed-horizon p-value from the pooled rate under no difference.
    /// </summary>
    public static EffectInterval TwoProportion(long controlSuccesses, long controlTrials, long treatmentSuccesses, long treatmentTrials, EffectScale scale, TestOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        RequireUnits(controlTrials, treatmentTrials);
        if (controlSuccesses < 0 || controlSuccesses > controlTrials || treatmentSuccesses < 0 || treatmentSuccesses > treatmentTrials)
        {
            throw new ArgumentOutOfRangeException(nameof(controlSuccesses), "successes must lie between 0 and the trials");
        }

        var pc = (double)controlSuccesses / controlTrials;
        var pt = (double)treatmentSuccesses / treatmentTrials;
        var result = Compare(TwoProportionZ, pc, pc * (1 - pc), controlTrials, pt, pt * (1 - pt), treatmentTrials, scale, options, double.PositiveInfinity);
        if (options.Sequential)
        {
            return result;
        }

        var pooled = (double)(controlSuccesses + treatmentSuccesses) / (controlTrials + treatmentTrials);
        var pooledSe = Math.Sqrt(pooled * (1 - pooled) * ((1.0 / controlTrials) + (1.0 / treatmentTrials)));
        var p = pooledSe > 0 ? 2 * Distributions.NormalSurvival(Math.Abs(pt - pc) / pooledSe) : (pt == pc ? 1 : 0);
        return result with { PValue = Math.Min(1, p * Math.Max(1, options.Comparisons)) };
    }

    /// <summary>
    /// A ratio metric compared by the delta method, units (devices or groups) independent, the
    /// events within a unit not: this is the cluster-robust comparison for group assignment.
    /// </summary>
    public static EffectInterval DeltaMethodRatio(RatioMoments control, RatioMoments treatment, EffectScale scale, TestOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        RequireUnits(control.Units, treatment.Units);
        var rc = control.Ratio;
        var rt = treatment.Ratio;
        var vc = control.RatioVariance;
        var vt = treatment.RatioVariance;

        // Compare takes per-unit variances and unit counts; the ratio's variance is already per estimate.
        return Compare(DeltaMethod, rc, vc * control.Units, control.Units, rt, vt * treatment.Units, treatment.Units, scale, options, double.PositiveInfinity);
    }

    /// <summary>
    /// The difference of two estimates from their per-unit variances and unit counts, on either
    /// scale, with a fixed-horizon interval (t with <paramref name="degreesOfFreedom"/>, normal when
    /// infinite) or a confidence sequence.
    /// </summary>
    public static EffectInterval Compare(
        string test,
        double controlMean,
        double controlVariance,
        double controlUnits,
        double treatmentMean,
        double treatmentVariance,
        double treatmentUnits,
        EffectScale scale,
        TestOptions options,
        double degreesOfFreedom)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        double estimate, variance;
        if (scale == EffectScale.Absolute)
        {
            estimate = treatmentMean - controlMean;
            variance = (treatmentVariance / treatmentUnits) + (controlVariance / controlUnits);
        }
        else
        {
            if (controlMean == 0)
            {
                throw new InvalidOperationException("a relative difference needs a control value other than 0");
            }

            estimate = (treatmentMean / controlMean) - 1;
            variance = (treatmentVariance / (controlMean * controlMean * treatmentUnits))
                + (controlVariance * treatmentMean * treatmentMean / (Math.Pow(controlMean, 4) * controlUnits));
        }

        var alpha = options.ComparisonAlpha;
        var se = Math.Sqrt(variance);
        double halfWidth, p;
        if (options.Sequential)
        {
            var total = controlUnits + treatmentUnits;
            halfWidth = ConfidenceSequence.HalfWidth(variance, total, alpha, options.SequentialTuning);
            p = ConfidenceSequence.PValue(estimate, variance, total, options.SequentialTuning);
        }
        else
        {
            halfWidth = Distributions.StudentTQuantile(1 - (alpha / 2), degreesOfFreedom) * se;
            p = se > 0 ? 2 * Distributions.StudentTSurvival(Math.Abs(estimate) / se, degreesOfFreedom) : (estimate == 0 ? 1 : 0);
        }

        p = Math.Min(1, p * Math.Max(1, options.Comparisons));
        return new EffectInterval(
            test, scale, controlMean, treatmentMean, estimate, se, estimate - halfWidth, estimate + halfWidth, p, options.Sequential, 1 - alpha,
            options.Sequential || double.IsPositiveInfinity(degreesOfFreedom) ? null : degreesOfFreedom);
    }

    /// <summary>A variance needs two units: with one, an interval of width 0 would claim a certainty there is none.</summary>
    private static void RequireUnits(double control, double treatment)
    {
        if (control < 2 || treatment < 2)
        {
            throw new InvalidOperationException($"each arm needs at least two units to estimate a variance (control {control}, treatment {treatment})");
        }
    }
}
