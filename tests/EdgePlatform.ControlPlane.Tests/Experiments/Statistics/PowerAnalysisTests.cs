using EdgePlatform.ControlPlane.Experiments.Statistics;

namespace EdgePlatform.ControlPlane.Tests.Experiments.Statistics;

public sealed class PowerAnalysisTests
{
    /// <summary>
    /// n per arm = ⌈2σ²(z₁₋α/2 + z_power)²/δ²⌉, the values from reference_values.py (lines "power":
    /// σ, δ, α per comparison, power, the closed form, then the root of the exact two-tailed normal
    /// power, which differs only past the second decimal). The first row is Cohen's medium effect
    /// d = 0.5: 62.79 by the normal approximation (Cohen's t-based table, Statistical Power Analysis
    /// for the Behavioral Sciences, 2nd ed., 1988, Table 2.4.1, gives 64).
    /// </summary>
    [Theory]
    [InlineData(1.0, 0.5, 0.05, 0.8, 2, 63)] // 62.79103787479271
    [InlineData(0.4, 0.02, 0.05, 0.8, 2, 6280)] // 6279.103787479272: accuracy 0.80 → 0.82
    [InlineData(1.0, 0.2, 0.05, 0.9, 3, 621)] // 620.5603475810412 at α 0.025: three arms, two comparisons
    [InlineData(2.5, 0.1, 0.01, 0.95, 2, 22268)] // 22267.705499771517
    public void UnitsPerArm_MatchesNormalApproximation(double sd, double mde, double alpha, double power, int arms, long expected) =>
        Assert.Equal(expected, PowerAnalysis.UnitsPerArm(sd, mde, alpha, power, arms));

    /// <summary>Lehr's equation as van Belle gives it (Statistical Rules of Thumb, 2nd ed., 2008, ch. 2): n ≈ 16σ²/δ² per arm at α 0.05 and power 0.8 (16 rounds 2(1.96 + 0.84)² = 15.70).</summary>
    [Fact]
    public void UnitsPerArm_AgreesWithSixteenSigmaSquaredRuleOfThumb()
    {
        var n = PowerAnalysis.UnitsPerArm(3, 0.3, 0.05, 0.8, 2);

        Assert.InRange(n, 15.5 * 100, 16 * 100);
    }

    [Fact]
    public void UnitsPerArm_NegativeEffect_SameAsPositive() =>
        Assert.Equal(PowerAnalysis.UnitsPerArm(1, 0.5, 0.05, 0.8, 2), PowerAnalysis.UnitsPerArm(1, -0.5, 0.05, 0.8, 2));

    [Fact]
    public void RateStandardDeviation_IsBernoulliStandardDeviation() =>
        Close.Assert(0.4, PowerAnalysis.RateStandardDeviation(0.8), 1e-15);

    [Theory]
    [InlineData(0, 0.1, 0.05, 0.8, 2, "standardDeviation")]
    [InlineData(1, 0, 0.05, 0.8, 2, "minimumDetectableEffect")]
    [InlineData(1, 0.1, 1.0, 0.8, 2, "alpha")]
    [InlineData(1, 0.1, 0.05, 0, 2, "power")]
    [InlineData(1, 0.1, 0.05, 0.8, 1, "arms")]
    public void UnitsPerArm_BadInput_NamesTheField(double sd, double mde, double alpha, double power, int arms, string field)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => PowerAnalysis.UnitsPerArm(sd, mde, alpha, power, arms));

        Assert.Equal(field, error.ParamName);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    public void RateStandardDeviation_BaselineAtABound_Refuses(double baseline) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => PowerAnalysis.RateStandardDeviation(baseline));
}
