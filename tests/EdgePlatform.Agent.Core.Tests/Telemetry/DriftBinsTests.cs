using EdgePlatform.Agent.Core.Telemetry;
using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Core.Tests.Telemetry;

public sealed class DriftBinsTests
{
    [Theory]
    [InlineData(5, 0)]
    [InlineData(10, 0)]
    [InlineData(10.5, 1)]
    [InlineData(90, 8)]
    [InlineData(1000, 9)]
    public void BinOf_Value_FallsInTheRightClosedDecileBin(double value, int bin)
    {
        var bins = DriftBins.From(new FeatureBaseline("x", 50, 10, 0, 100, [10, 20, 30, 40, 50, 60, 70, 80, 90]))!;

        Assert.Equal(bin, bins.BinOf(value));
    }

    [Fact]
    public void From_TiedDeciles_GivesTheEmptyBinsShareToTheBinHoldingTheTiedValue()
    {
        // Half the training data is exactly 0: deciles 1–5 are 0.
        var bins = DriftBins.From(new FeatureBaseline("x", 1, 1, 0, 4, [0, 0, 0, 0, 0, 1, 2, 3, 4]))!;

        Assert.Equal([0.5, 0, 0, 0, 0, 0.1, 0.1, 0.1, 0.1, 0.1], bins.Expected.Select(e => Math.Round(e, 12)));
        var observed = new long[10];
        observed[0] = 50;
        for (var i = 5; i < 10; i++)
        {
            observed[i] = 10;
        }

        Assert.Equal(0, bins.Psi(observed)!.Value, 9);
    }

    [Fact]
    public void From_NoDeciles_CutsTheNormalWithTheBaselinesMeanAndDeviationIntoTenths()
    {
        var bins = DriftBins.From(new FeatureBaseline("x", 100, 10, 50, 150))!;

        Assert.Equal(100 - (1.2815515655446004 * 10), bins.Edges[0], 9);
        Assert.Equal(100, bins.Edges[4], 9);
        Assert.All(bins.Expected, e => Assert.Equal(0.1, e, 12));
    }

    [Fact]
    public void Psi_EmptyBins_AreSmoothedToAFiniteValue()
    {
        var bins = DriftBins.From(new FeatureBaseline("x", 100, 10, 50, 150))!;
        var observed = new long[10];
        observed[9] = 100;

        var psi = bins.Psi(observed)!.Value;

        // Nine bins at the smoothing floor against 0.1 each, one at 1.0 against 0.1.
        var expected = (9 * (DriftBins.Smoothing - 0.1) * Math.Log(DriftBins.Smoothing / 0.1)) + ((1 - 0.1) * Math.Log(1 / 0.1));
        Assert.Equal(expected, psi, 9);
    }

    [Fact]
    public void Psi_NothingObserved_IsNull()
    {
        var bins = DriftBins.From(new FeatureBaseline("x", 100, 10, 50, 150))!;

        Assert.Null(bins.Psi(new long[10]));
    }
}
