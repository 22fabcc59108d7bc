namespace EdgePlatform.ControlPlane.Experiments.Statistics;

/// <summary>
/// Adjustments for an experiment with more than one treatment. Intervals use Bonferroni
/// (<see cref="TestOptions.Comparisons"/>): each comparison's interval at 1 − α/m, which holds
/// jointly and is the only one of the two with matching intervals. Decisions can use Holm's step-down
/// p-values instead (Holm, 1979, "A simple sequentially rejective multiple test procedure",
/// Scand. J. Statist. 6:65–70): the same family-wise error rate, never less power.
/// </summary>
public static class MultipleComparisons
{
    /// <summary>
    /// Holm-adjusted p-values, in the order given: sorted ascending, p₍ᵢ₎ becomes
    /// max over j ≤ i of min(1, (m − j + 1) p₍ⱼ₎). Pass unadjusted p-values (those of comparisons run
    /// with <see cref="TestOptions.Comparisons"/> 1).
    /// </summary>
    public static double[] Holm(IReadOnlyList<double> unadjusted)
    {
        ArgumentNullException.ThrowIfNull(unadjusted);
        var m = unadjusted.Count;
        for (var i = 0; i < m; i++)
        {
            if (!(unadjusted[i] is >= 0 and <= 1))
            {
                throw new ArgumentOutOfRangeException(nameof(unadjusted), unadjusted[i], $"p-value {i} must lie between 0 and 1");
            }
        }

        var order = Enumerable.Range(0, m).OrderBy(i => unadjusted[i]).ToArray();
        var adjusted = new double[m];
        var running = 0.0;
        for (var rank = 0; rank < m; rank++)
        {
            var i = order[rank];
            running = Math.Max(running, Math.Min(1, (m - rank) * unadjusted[i]));
            adjusted[i] = running;
        }

        return adjusted;
    }
}
