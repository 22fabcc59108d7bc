using EdgePlatform.ControlPlane.Experiments.Statistics;

namespace EdgePlatform.ControlPlane.Tests.Experiments.Statistics;

public sealed class ConfidenceSequenceTests
{
    [Theory]
    [InlineData(0.02, 0.0001, 2000, 1000)]
    [InlineData(-0.5, 0.04, 50_000, 5000)]
    [InlineData(0.003, 1e-8, 10, 5000)]
    public void PValue_IsTheAlphaWhoseSequenceJustReachesZero(double estimate, double variance, double units, double tuning)
    {
        var p = ConfidenceSequence.PValue(estimate, variance, units, tuning);

        Assert.InRange(p, double.Epsilon, 0.999);
        Close.Assert(Math.Abs(estimate), ConfidenceSequence.HalfWidth(variance, units, p, tuning), 1e-8);
    }

    /// <summary>
    /// Well below its tuning size a sequence stays wide even as α nears 1: ρ² → 0 makes the
    /// half-width tend to SE·√(1 + n*/(2N)), not to 0 (sixteen standard errors at N 10, n* 5000), so
    /// an effect of ten standard errors never reaches significance there.
    /// </summary>
    [Fact]
    public void PValue_EffectInsideTheWidestSequenceAlphaAllows_IsOne() =>
        Assert.Equal(1, ConfidenceSequence.PValue(0.001, 1e-8, 10, 5000));

    /// <summary>The bisection assumes a larger α gives a narrower sequence; ρ depends on α, so check it over a grid.</summary>
    [Fact]
    public void HalfWidth_NarrowsAsAlphaGrows()
    {
        foreach (var tuning in new[] { 10.0, 1000, 5000, 1e6 })
        {
            foreach (var units in new[] { 2.0, 100, 10_000, 1e7 })
            {
                var previous = double.PositiveInfinity;
                for (var logAlpha = -300.0; logAlpha < 0; logAlpha += 0.5)
                {
                    var width = ConfidenceSequence.HalfWidth(1.0 / units, units, Math.Exp(logAlpha), tuning);
                    Assert.True(width <= previous, $"n* {tuning}, N {units}: width rose at ln α {logAlpha}");
                    previous = width;
                }
            }
        }
    }

    [Fact]
    public void PValue_AgreesWithTheIntervalAtEveryAlpha()
    {
        var result = TwoSampleTests.Welch(new SampleMoments(4000, 2000, 2600), new SampleMoments(4000, 2100, 2700), EffectScale.Absolute, new TestOptions { Alpha = 0.05 });

        Assert.Equal(result.PValue < 0.05, result.Significant);
    }

    [Fact]
    public void HalfWidth_IsWiderThanFixedHorizonInterval()
    {
        var fixedHalf = 1.959963984540054 * Math.Sqrt(1e-4);

        Assert.True(ConfidenceSequence.HalfWidth(1e-4, 10_000, 0.05, 5000) > fixedHalf);
    }
}
