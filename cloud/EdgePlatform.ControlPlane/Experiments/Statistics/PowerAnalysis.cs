namespace EdgePlatform.ControlPlane.Experiments.Statistics;

/// <summary>
/// Sample size for a two-sided test of a difference in means or rates, by the normal
/// approximation: n per arm = 2σ²(z₁₋α/2 + z_power)² / δ². With more than two arms each
/// treatment is compared with the control at α / (arms − 1), the Bonferroni share the analysis
/// gives each comparison (<see cref="TestOptions.Comparisons"/>), so the calculator and the
/// analysis agree on what "detected" means.
/// </summary>
public static class PowerAnalysis
{
    /// <summary>Units per arm to detect an absolute difference <paramref name="minimumDetectableEffect"/> with per-unit standard deviation <paramref name="standardDeviation"/>.</summary>
    public static long UnitsPerArm(double standardDeviation, double minimumDetectableEffect, double alpha, double power, int arms)
    {
        if (!(standardDeviation > 0) || double.IsInfinity(standardDeviation))
        {
            throw new ArgumentOutOfRangeException(nameof(standardDeviation), standardDeviation, "the standard deviation must be a positive number");
        }

        if (minimumDetectableEffect == 0 || !double.IsFinite(minimumDetectableEffect))
        {
            throw new ArgumentOutOfRangeException(nameof(minimumDetectableEffect), minimumDetectableEffect, "the minimum detectable effect must be a finite difference other than 0");
        }

        if (!(alpha is > 0 and < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be between 0 and 1");
        }

        if (!(power is > 0 and < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(power), power, "power must be between 0 and 1");
        }

        if (arms < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(arms), arms, "an experiment has at least two arms");
        }

        var comparisonAlpha = ComparisonAlpha(alpha, arms);
        var z = Distributions.NormalQuantile(1 - (comparisonAlpha / 2)) + Distributions.NormalQuantile(power);
        var ratio = standardDeviation / minimumDetectableEffect;
        var n = 2 * z * z * ratio * ratio;

        // A hair of slack so a value that is an integer up to rounding is not pushed one higher.
        return (long)Math.Ceiling(n - (1e-9 * n));
    }

    /// <summary>
    /// The per-unit standard deviation of a rate (a 0/1 outcome per unit) at the baseline
    /// <paramref name="baselineRate"/>: √(p(1 − p)), so a rate's power needs only its baseline and the
    /// difference to detect.
    /// </summary>
    public static double RateStandardDeviation(double baselineRate)
    {
        if (!(baselineRate is > 0 and < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(baselineRate), baselineRate, "a rate's baseline must lie strictly between 0 and 1");
        }

        return Math.Sqrt(baselineRate * (1 - baselineRate));
    }

    /// <summary>The error rate each treatment-versus-control comparison gets among <paramref name="arms"/> arms.</summary>
    public static double ComparisonAlpha(double alpha, int arms) => alpha / Math.Max(1, arms - 1);
}
