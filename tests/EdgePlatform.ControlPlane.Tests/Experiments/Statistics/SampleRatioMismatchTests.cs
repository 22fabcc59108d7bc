using EdgePlatform.ControlPlane.Experiments.Statistics;

namespace EdgePlatform.ControlPlane.Tests.Experiments.Statistics;

/// <summary>Against scipy.stats.chisquare(observed, f_exp) (reference_values.py, lines "chisquare").</summary>
public sealed class SampleRatioMismatchTests
{
    [Theory]
    [InlineData(new long[] { 5550, 4450 }, new[] { 0.5, 0.5 }, 121.0, 3.821319148997354e-28, true)]
    [InlineData(new long[] { 5030, 4970 }, new[] { 0.5, 0.5 }, 0.36, 0.5485062355001471, false)]
    [InlineData(new long[] { 3400, 3300, 3300 }, new[] { 1.0, 1.0, 1.0 }, 2.0, 0.36787944117144245, false)]
    [InlineData(new long[] { 2100, 7900 }, new[] { 0.2, 0.8 }, 6.25, 0.01241933065155227, false)]
    public void Check_MatchesScipyChiSquare(long[] observed, double[] shares, double chiSquare, double pValue, bool alarm)
    {
        var result = SampleRatioMismatch.Check(observed, shares);

        Close.Assert(chiSquare, result.ChiSquare, 1e-12);
        Close.Assert(pValue, result.PValue, 1e-9);
        Assert.Equal(observed.Length - 1, result.DegreesOfFreedom);
        Assert.Equal(alarm, result.Alarm);
    }

    [Fact]
    public void Check_MismatchedLengths_NamesTheShares()
    {
        var error = Assert.Throws<ArgumentException>(() => SampleRatioMismatch.Check([10, 10], [1.0]));

        Assert.Equal("expectedShares", error.ParamName);
    }

    [Fact]
    public void Check_ObservedInAnArmConfiguredWithNoShare_Alarms()
    {
        var result = SampleRatioMismatch.Check([500, 500, 3], [0.5, 0.5, 0]);

        Assert.True(result.Alarm);
    }
}
