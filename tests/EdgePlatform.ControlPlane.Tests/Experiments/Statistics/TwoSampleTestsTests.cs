using EdgePlatform.ControlPlane.Experiments.Statistics;

namespace EdgePlatform.ControlPlane.Tests.Experiments.Statistics;

public sealed class TwoSampleTestsTests
{
    private static readonly TestOptions Fixed = new() { Sequential = false };

    // GrowthBook's published tests, growthbook/growthbook packages/stats/tests/frequentist/test_tests.py,
    // the version with TestSequentialTTest: SampleMeanStatistic(sum, sum_squares, n) is our
    // SampleMoments(n, sum, sum of squares); values there are rounded to DECIMALS = 5.
    private static readonly SampleMoments GrowthBookTreatment = new(3461, 2422.7, 134698.29);

    /// <summary>TestSequentialTTest.test_sequential_test_runs: control n 3000, SequentialConfig(sequential_tuning_parameter=1000).</summary>
    [Fact]
    public void Welch_GrowthBookSequentialRelative_ReproducesPublishedConfidenceSequence()
    {
        var control = new SampleMoments(3000, 1396.87, 52377.9767);

        var result = TwoSampleTests.Welch(control, GrowthBookTreatment, EffectScale.Relative, new TestOptions { Sequential = true, SequentialTuning = 1000, Alpha = 0.05 });

        Close.Rounded(0.50336, result.Estimate, 5);
        Close.Rounded(0.33341, result.StandardError, 5);
        Close.Rounded(-0.55844, result.Lower, 5);
        Close.Rounded(1.56516, result.Upper, 5);
        Assert.True(result.Sequential);
        Assert.False(result.Significant);
    }

    /// <summary>TestTwoSidedTTest.test_two_sided_ttest: control n 3407, relative, fixed horizon: ci (−0.03526, 1.44989), se 0.37879, p 0.06191.</summary>
    [Fact]
    public void Welch_GrowthBookFixedRelative_ReproducesPublishedInterval()
    {
        var control = new SampleMoments(3407, 1396.87, 52377.9767);

        var result = TwoSampleTests.Welch(control, GrowthBookTreatment, EffectScale.Relative, Fixed);

        Close.Rounded(0.70732, result.Estimate, 5);
        Close.Rounded(0.37879, result.StandardError, 5);
        Close.Rounded(-0.03526, result.Lower, 5);
        Close.Rounded(1.44989, result.Upper, 5);
        Close.Rounded(0.06191, result.PValue, 5);
    }

    /// <summary>TestTwoSidedTTest.test_two_sided_ttest_absolute: ci (0.04538, 0.53462), se 0.12478, p 0.02016.</summary>
    [Fact]
    public void Welch_GrowthBookFixedAbsolute_ReproducesPublishedInterval()
    {
        var control = new SampleMoments(3407, 1396.87, 52377.9767);

        var result = TwoSampleTests.Welch(control, GrowthBookTreatment, EffectScale.Absolute, Fixed);

        Close.Rounded(0.29, result.Estimate, 5);
        Close.Rounded(0.12478, result.StandardError, 5);
        Close.Rounded(0.04538, result.Lower, 5);
        Close.Rounded(0.53462, result.Upper, 5);
        Close.Rounded(0.02016, result.PValue, 5);
    }

    /// <summary>TestSequentialTTest.test_sequential_test_runs_prop: 1396/3000 against 2422/3461, default tuning (5000): ci (0.40098, 0.60675), se 0.03386.</summary>
    [Fact]
    public void TwoProportion_GrowthBookSequentialRelative_ReproducesPublishedConfidenceSequence()
    {
        var result = TwoSampleTests.TwoProportion(1396, 3000, 2422, 3461, EffectScale.Relative, new TestOptions());

        Close.Rounded(0.50386, result.Estimate, 5);
        Close.Rounded(0.03386, result.StandardError, 5);
        Close.Rounded(0.40098, result.Lower, 5);
        Close.Rounded(0.60675, result.Upper, 5);
        Assert.True(result.PValue < 1e-5);
    }

    /// <summary>
    /// TestTwoSidedTTest.test_two_sided_ttest_binom: 14/28 against 16/30, relative: lift 0.06667 and
    /// standard error 0.2717 (published as 0.2717) reproduced. Its interval (−0.47767, 0.61101) is
    /// not: GrowthBook draws it with Student's t at the Welch degrees of freedom (a multiplier of
    /// 2.0035 here), where the two-proportion test uses the normal, as a z test does.
    /// </summary>
    [Fact]
    public void TwoProportion_GrowthBookFixedRelative_ReproducesPublishedStandardError()
    {
        var result = TwoSampleTests.TwoProportion(14, 28, 16, 30, EffectScale.Relative, Fixed);

        Close.Rounded(0.06667, result.Estimate, 5);
        Close.Rounded(0.2717, result.StandardError, 4);
        Close.Assert(1.959963984540054 * result.StandardError, result.Upper - result.Estimate, 1e-9);
    }

    /// <summary>
    /// Two fixed samples against scipy.stats.ttest_ind(b, a, equal_var=False) and the
    /// Welch–Satterthwaite interval, from reference_values.py (line "welch t").
    /// </summary>
    [Fact]
    public void Welch_FixedHorizon_MatchesScipy()
    {
        double[] a = [19.3, 22.1, 18.7, 25.0, 21.4, 20.2, 23.8, 17.9, 22.6, 20.0];
        double[] b = [24.1, 27.9, 21.5, 30.2, 26.4, 23.3, 29.0, 25.7];

        var result = TwoSampleTests.Welch(SampleMoments.Of(a), SampleMoments.Of(b), EffectScale.Absolute, Fixed);

        Close.Assert(4.912500000000001, result.Estimate, 1e-12);
        Close.Assert(3.854626413422224, result.Estimate / result.StandardError, 1e-10);
        Close.Assert(12.959402723640354, result.DegreesOfFreedom!.Value, 1e-10);
        Close.Assert(0.002000870080621514, result.PValue, 1e-8);
        Close.Assert(2.158357196876276, result.Lower, 1e-9);
        Close.Assert(7.666642803123727, result.Upper, 1e-9);
    }

    /// <summary>
    /// NIST/SEMATECH e-Handbook of Statistical Methods, §1.3.5.3 (Two-Sample t-Test for Equal
    /// Means), the AUTO83B miles-per-gallon example: US cars n 249, mean 20.14458, sd 6.41470;
    /// Japanese cars n 79, mean 30.48101, sd 6.10771; unequal-variance T = −12.94627 with
    /// 136.8750 degrees of freedom. The summary is published to 5 places, hence the tolerance.
    /// </summary>
    [Fact]
    public void Welch_NistHandbookAutoExample_ReproducesStatisticAndDegreesOfFreedom()
    {
        static SampleMoments FromSummary(int n, double mean, double sd) => new(n, n * mean, ((n - 1) * sd * sd) + (n * mean * mean));

        var result = TwoSampleTests.Welch(FromSummary(79, 30.48101, 6.10771), FromSummary(249, 20.14458, 6.41470), EffectScale.Absolute, Fixed);

        Close.Assert(-12.94627, result.Estimate / result.StandardError, 1e-5);
        Close.Assert(136.8750, result.DegreesOfFreedom!.Value, 1e-5);
    }

    /// <summary>480/1000 against 530/1000: pooled z and two-sided p, unpooled 95 % interval, from reference_values.py (scipy.stats.norm).</summary>
    [Fact]
    public void TwoProportion_FixedHorizon_MatchesPooledZAndUnpooledInterval()
    {
        var result = TwoSampleTests.TwoProportion(480, 1000, 530, 1000, EffectScale.Absolute, Fixed);

        Close.Assert(0.05, result.Estimate, 1e-12);
        Close.Assert(0.025339996552342214, result.PValue, 1e-8);
        Close.Assert(0.006230884017607158, result.Lower, 1e-8);
        Close.Assert(0.09376911598239293, result.Upper, 1e-8);
        Assert.True(result.Significant);
    }

    [Fact]
    public void Compare_SeveralComparisons_WidensIntervalAndMultipliesPValue()
    {
        var one = TwoSampleTests.TwoProportion(480, 1000, 530, 1000, EffectScale.Absolute, Fixed);
        var three = TwoSampleTests.TwoProportion(480, 1000, 530, 1000, EffectScale.Absolute, Fixed with { Comparisons = 3 });

        Close.Assert(Math.Min(1, 3 * one.PValue), three.PValue, 1e-12);
        Close.Assert(1 - (0.05 / 3), three.Level, 1e-12);
        Assert.True(three.Upper - three.Lower > one.Upper - one.Lower);
    }

    [Fact]
    public void Compare_RelativeWithControlAtZero_SaysWhy()
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            TwoSampleTests.Welch(new SampleMoments(10, 0, 0), new SampleMoments(10, 5, 5), EffectScale.Relative, Fixed));

        Assert.Contains("control", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Welch_OneUnitInAnArm_RefusesRatherThanClaimingCertainty()
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            TwoSampleTests.Welch(new SampleMoments(1, 3, 9), new SampleMoments(50, 100, 300), EffectScale.Absolute, Fixed));

        Assert.Contains("two", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Welch_BothArmsConstantAndEqual_ReportsNoDifference()
    {
        var result = TwoSampleTests.Welch(new SampleMoments(10, 20, 40), new SampleMoments(12, 24, 48), EffectScale.Absolute, Fixed);

        Assert.Equal(0, result.Estimate);
        Assert.Equal(1, result.PValue);
        Assert.False(result.Significant);
    }

    /// <summary>
    /// The delta method on 40 devices per arm (correct and labelled predictions each, the data set
    /// in <see cref="RatioData"/>) against numpy: the linearised variance and the moments form agree
    /// (reference_values.py, lines "delta …").
    /// </summary>
    [Fact]
    public void DeltaMethodRatio_MatchesNumpy()
    {
        var control = RatioData.Moments(RatioData.ControlCorrect, RatioData.ControlLabelled);
        var treatment = RatioData.Moments(RatioData.TreatmentCorrect, RatioData.TreatmentLabelled);

        Close.Assert(0.7036637931034483, control.Ratio, 1e-12);
        Close.Assert(0.0002711834258454343, control.RatioVariance, 1e-9);
        Close.Assert(0.00012350313093600185, treatment.RatioVariance, 1e-9);

        var absolute = TwoSampleTests.DeltaMethodRatio(control, treatment, EffectScale.Absolute, Fixed);
        Close.Assert(0.01819907882410665, absolute.Estimate, 1e-10);
        Close.Assert(0.019866719829439286, absolute.StandardError, 1e-9);

        var relative = TwoSampleTests.DeltaMethodRatio(control, treatment, EffectScale.Relative, Fixed);
        Close.Assert(0.025863315694901967, relative.Estimate, 1e-10);
        Close.Assert(0.028736964128044322, relative.StandardError, 1e-9);
    }

    /// <summary>With every denominator 1 the ratio is a mean, and its delta-method variance is the sample mean's, s²/n.</summary>
    [Fact]
    public void RatioVariance_UnitDenominators_EqualsMeanVariance()
    {
        double[] values = [3, 7, 1, 9, 4, 4, 6];
        var ratio = values.Aggregate(default(RatioMoments), (m, v) => m.Add(v, 1));
        var mean = SampleMoments.Of(values);

        Close.Assert(mean.Variance / mean.Count, ratio.RatioVariance, 1e-12);
    }
}
