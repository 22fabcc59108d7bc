using EdgePlatform.ControlPlane.Experiments.Statistics;

namespace EdgePlatform.ControlPlane.Tests.Experiments;

public sealed class AucTests
{
    // 400 positives ~ Beta(3, 2) and 600 negatives ~ Beta(2, 3) (numpy default_rng(3)) binned in
    // hundredths; sklearn.metrics.roc_auc_score on the bin indices → 0.7499791666666666, and
    // Hanley–McNeil's SE from it → 0.016238800968588492.
    private static readonly long[] Positive =
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 1, 2, 2, 0, 1, 1, 4, 2, 3, 1, 5, 2, 1, 5, 3, 2, 4, 2, 2, 3, 4, 3, 3, 5, 7, 5, 5, 10, 7, 6, 9, 8, 3,
        11, 4, 8, 4, 5, 8, 6, 3, 7, 9, 10, 5, 8, 6, 11, 7, 7, 3, 7, 8, 7, 4, 11, 4, 8, 6, 9, 3, 6, 7, 3, 9, 8, 1, 7, 12, 7, 1, 3, 2, 3, 5, 7, 3, 1, 2, 1, 0, 0, 0,
    ];

    private static readonly long[] Negative =
    [
        0, 1, 1, 4, 3, 2, 4, 2, 6, 4, 6, 4, 7, 6, 5, 7, 8, 14, 15, 11, 3, 8, 9, 8, 10, 7, 7, 11, 4, 12, 12, 5, 16, 13, 5, 11, 12, 9, 10, 12, 15, 15, 5, 10, 11, 13, 8, 9, 6, 10,
        10, 3, 10, 8, 9, 9, 10, 9, 5, 7, 12, 6, 8, 6, 5, 6, 5, 6, 7, 3, 8, 7, 2, 4, 5, 3, 3, 4, 3, 1, 4, 1, 2, 2, 2, 1, 0, 4, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0,
    ];

    [Fact]
    public void FromHistograms_MatchesSklearnAndHanleyMcNeil()
    {
        var auc = Auc.FromHistograms(Positive, Negative)!.Value;

        Assert.Equal(0.7499791666666666, auc.Value, 1e-12);
        Assert.Equal(0.016238800968588492, Math.Sqrt(auc.Variance), 1e-12);
        Assert.Equal((400L, 600L), (auc.Positives, auc.Negatives));
    }

    [Fact]
    public void FromHistograms_OneLabelMissing_IsNull()
    {
        Assert.Null(Auc.FromHistograms([1, 2], [0, 0]));
        Assert.Throws<ArgumentException>(() => Auc.FromHistograms([1, 2], [1]));
    }

    [Fact]
    public void Jackknife_LeavesEachUnitOut_MatchesSklearn()
    {
        // Three units of four bins; sklearn's AUC of the sum 0.6524216524216524, and of each
        // leave-one-out sum, giving (g − 1)/g · Σ (A₋ᵍ − Ā)² = 0.024132252226114363.
        var auc = Auc.Jackknife(
        [
            ([1, 2, 3, 4], [4, 3, 2, 1]),
            ([0, 1, 5, 2], [3, 3, 1, 0]),
            ([2, 2, 2, 2], [1, 2, 3, 4]),
        ])!.Value;

        Assert.Equal(0.6524216524216524, auc.Value, 1e-12);
        Assert.Equal(0.024132252226114363, auc.Variance, 1e-12);
    }
}
