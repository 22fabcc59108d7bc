using EdgePlatform.ControlPlane.Experiments.Statistics;

namespace EdgePlatform.ControlPlane.Tests.Experiments.Statistics;

public sealed class CupedTests
{
    private static readonly CupedUnit[] Control = RatioData.Units(RatioData.ControlCorrect, RatioData.ControlLabelled, RatioData.ControlPreCorrect, RatioData.ControlPreLabelled);
    private static readonly CupedUnit[] Treatment = RatioData.Units(RatioData.TreatmentCorrect, RatioData.TreatmentLabelled, RatioData.TreatmentPreCorrect, RatioData.TreatmentPreLabelled);

    /// <summary>
    /// θ, adjusted ratios and variances computed directly in numpy on the same data
    /// (reference_values.py, lines "cuped …": linearised influences, θ = Σ L·L⁰ / Σ L⁰² over both arms).
    /// </summary>
    [Fact]
    public void Adjust_MatchesNumpyComputation()
    {
        var adjustment = Cuped.Adjust(Control, Treatment);

        Close.Assert(0.5602370480258085, adjustment.Theta, 1e-10);
        Close.Assert(0.6984067227594453, adjustment.ControlRatio, 1e-10);
        Close.Assert(0.00017032458247783603, adjustment.ControlVariance, 1e-9);
        Close.Assert(0.7270234822652459, adjustment.TreatmentRatio, 1e-10);
        Close.Assert(6.871311073577932e-05, adjustment.TreatmentVariance, 1e-9);
        Close.Assert(0.39436069177804245, adjustment.VarianceReduction, 1e-9);
        Close.Assert(0.0002711834258454343, adjustment.ControlUnadjustedVariance, 1e-9);
    }

    [Fact]
    public void Compare_Absolute_NarrowsTheIntervalAgainstTheUnadjustedDeltaMethod()
    {
        var options = new TestOptions { Sequential = false };
        var adjusted = Cuped.Compare(Control, Treatment, EffectScale.Absolute, options);
        var plain = TwoSampleTests.DeltaMethodRatio(
            RatioData.Moments(RatioData.ControlCorrect, RatioData.ControlLabelled),
            RatioData.Moments(RatioData.TreatmentCorrect, RatioData.TreatmentLabelled),
            EffectScale.Absolute,
            options);

        Close.Assert(0.02861675950580067, adjusted.Estimate, 1e-10);
        Close.Assert(0.015460843871329125, adjusted.StandardError, 1e-9);
        Assert.Equal(Cuped.Test, adjusted.Test);
        Assert.True(adjusted.StandardError < 0.8 * plain.StandardError);
    }

    [Fact]
    public void Adjust_NoPreExperimentData_LeavesTheDeltaMethodUnchanged()
    {
        CupedUnit[] Strip(CupedUnit[] units) => [.. units.Select(u => u with { PreNumerator = 0, PreDenominator = 0 })];

        var adjustment = Cuped.Adjust(Strip(Control), Strip(Treatment));

        Assert.Equal(0, adjustment.Theta);
        Close.Assert(0.7036637931034483, adjustment.ControlRatio, 1e-12);
        Close.Assert(0.0002711834258454343, adjustment.ControlVariance, 1e-9);
        Assert.Equal(0, adjustment.VarianceReduction);
    }

    [Fact]
    public void Adjust_UnitWithoutPreExperimentData_CountsAsAtTheMean()
    {
        var partial = Control.ToArray();
        partial[0] = partial[0] with { PreNumerator = 0, PreDenominator = 0 };

        var adjustment = Cuped.Adjust(partial, Treatment);

        Assert.True(adjustment.Theta > 0);
        Assert.True(double.IsFinite(adjustment.ControlRatio) && double.IsFinite(adjustment.ControlVariance));
    }

    [Fact]
    public void Adjust_OneUnitInAnArm_SaysWhichArm()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Cuped.Adjust(Control[..1], Treatment));

        Assert.Contains("control", error.Message, StringComparison.Ordinal);
    }
}
