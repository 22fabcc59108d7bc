using EdgePlatform.ControlPlane.Experiments.Statistics;

namespace EdgePlatform.ControlPlane.Tests.Experiments.Statistics;

public sealed class MultipleComparisonsTests
{
    /// <summary>
    /// By Holm's definition (Holm 1979): sorted 0.005, 0.01, 0.03, 0.04 become 4·0.005 = 0.02,
    /// 3·0.01 = 0.03, 2·0.03 = 0.06, max(0.06, 1·0.04) = 0.06, returned in the order given.
    /// </summary>
    [Fact]
    public void Holm_WorkedExample_StepsDownAndStaysMonotone()
    {
        var adjusted = MultipleComparisons.Holm([0.01, 0.04, 0.03, 0.005]);

        double[] expected = [0.03, 0.06, 0.06, 0.02];
        for (var i = 0; i < expected.Length; i++)
        {
            Close.Assert(expected[i], adjusted[i], 1e-12);
        }
    }

    [Fact]
    public void Holm_NeverAboveBonferroni()
    {
        double[] raw = [0.2, 0.001, 0.04, 0.3];

        var adjusted = MultipleComparisons.Holm(raw);

        for (var i = 0; i < raw.Length; i++)
        {
            Assert.True(adjusted[i] <= Math.Min(1, raw.Length * raw[i]) + 1e-15);
            Assert.True(adjusted[i] >= raw[i]);
        }
    }

    [Fact]
    public void Holm_PValueOutOfRange_Refuses() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => MultipleComparisons.Holm([0.5, 1.5]));
}
