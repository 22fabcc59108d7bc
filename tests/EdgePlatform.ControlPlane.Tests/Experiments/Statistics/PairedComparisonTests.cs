using EdgePlatform.ControlPlane.Experiments.Statistics;

namespace EdgePlatform.ControlPlane.Tests.Experiments.Statistics;

public sealed class PairedComparisonTests
{
    // Per-event differences of a 0/1 correctness (treatment − control) on 16 events both arms scored.
    private static readonly double[] Differences = [0, 1, 0, 0, -1, 1, 1, 0, 0, 1, 0, 1, -1, 0, 1, 0];

    /// <summary>scipy.stats.ttest_1samp on the differences and its t interval (reference_values.py, line "paired").</summary>
    [Fact]
    public void Compare_FixedHorizon_MatchesScipyOneSampleT()
    {
        var result = PairedComparison.Compare(SampleMoments.Of(Differences), new TestOptions { Sequential = false });

        Close.Assert(0.25, result.Estimate, 1e-12);
        Close.Assert(1.4638501094227998, result.Estimate / result.StandardError, 1e-10);
        Close.Assert(0.16387561365565362, result.PValue, 1e-8);
        Close.Assert(-0.11401430922455569, result.Lower, 1e-9);
        Close.Assert(0.6140143092245557, result.Upper, 1e-9);
        Assert.Equal(15, result.DegreesOfFreedom);
    }

    [Fact]
    public void Compare_Sequential_IsWiderThanFixedHorizon()
    {
        var moments = SampleMoments.Of(Differences);

        var fixedHorizon = PairedComparison.Compare(moments, new TestOptions { Sequential = false });
        var sequential = PairedComparison.Compare(moments, new TestOptions { Sequential = true, SequentialTuning = 16 });

        Assert.True(sequential.Upper - sequential.Lower > fixedHorizon.Upper - fixedHorizon.Lower);
        Assert.True(sequential.Sequential);
        Assert.Null(sequential.DegreesOfFreedom);
    }

    [Fact]
    public void Compare_OnePairedEvent_SaysItNeedsTwo()
    {
        var error = Assert.Throws<InvalidOperationException>(() => PairedComparison.Compare(SampleMoments.Of([1.0]), new TestOptions()));

        Assert.Contains("two", error.Message, StringComparison.Ordinal);
    }
}
