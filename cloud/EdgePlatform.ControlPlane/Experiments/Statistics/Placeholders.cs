namespace EdgePlatform.ControlPlane.Experiments.Statistics;

/// <summary>A unit's metric during the experiment and before it (for CUPED), as numerator and denominator.</summary>
public readonly record struct CupedUnit(double Numerator, double Denominator, double PreNumerator, double PreDenominator);

/// <summary>CUPED (Deng et al., 2013): the metric adjusted by each unit's pre-experiment metric, θ from both arms pooled.</summary>
public static class Cuped
{
    /// <summary>The ratio metric's comparison after adjustment; units without a pre-experiment value are adjusted by the mean.</summary>
    public static EffectInterval Compare(IReadOnlyList<CupedUnit> control, IReadOnlyList<CupedUnit> treatment, EffectScale scale, TestOptions options) =>
        throw new NotImplementedException();
}

/// <summary>Shadow mode: per-event differences of the same events scored by both arms.</summary>
public static class PairedComparison
{
    /// <summary>Mean paired difference (treatment − control) with its interval; the events are the units.</summary>
    public static EffectInterval Compare(SampleMoments differences, TestOptions options) => throw new NotImplementedException();
}

/// <summary>Sample size for a two-sided test of a difference in means or rates.</summary>
public static class PowerAnalysis
{
    /// <summary>Units per arm to detect an absolute difference <paramref name="minimumDetectableEffect"/> with per-unit standard deviation <paramref name="standardDeviation"/>.</summary>
    public static long UnitsPerArm(double standardDeviation, double minimumDetectableEffect, double alpha, double power, int arms) =>
        throw new NotImplementedException();
}
