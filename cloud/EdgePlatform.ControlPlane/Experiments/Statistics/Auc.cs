namespace EdgePlatform.ControlPlane.Experiments.Statistics;

/// <summary>An AUC from binned scores: the estimate, how many positives and negatives it rests on, and its variance.</summary>
public readonly record struct AucEstimate(double Value, long Positives, long Negatives, double Variance)
{
    public long Count => Positives + Negatives;
}

/// <summary>
/// The area under the ROC curve from labelled probabilities counted in equal bins by label: the
/// chance that a positive scores above a negative, a tie (both in one bin) counting one half,
/// which is the trapezoidal AUC of the binned scores. Its standard error is Hanley and McNeil's
/// ("The meaning and use of the area under a receiver operating characteristic (ROC) curve",
/// Radiology 1982): SE² = (A(1 − A) + (n₊ − 1)(Q₁ − A²) + (n₋ − 1)(Q₂ − A²)) / (n₊ n₋),
/// Q₁ = A / (2 − A), Q₂ = 2A² / (1 + A).
/// </summary>
public static class Auc
{
    public const string HanleyMcNeil = "hanley-mcneil";
    public const string GroupedJackknife = "grouped-jackknife";

    /// <summary>The AUC of the summed histograms; null when either label has no predictions.</summary>
    public static AucEstimate? FromHistograms(IReadOnlyList<long> positive, IReadOnlyList<long> negative)
    {
        ArgumentNullException.ThrowIfNull(positive);
        ArgumentNullException.ThrowIfNull(negative);
        if (positive.Count != negative.Count)
        {
            throw new ArgumentException($"the positive histogram has {positive.Count} bins and the negative {negative.Count}; they must match", nameof(negative));
        }

        long positives = 0, negatives = 0;
        double wins = 0;
        for (var i = 0; i < positive.Count; i++)
        {
            // Positives in bin i beat every negative in a lower bin and tie with those in bin i.
            wins += positive[i] * (negatives + (0.5 * negative[i]));
            negatives += negative[i];
            positives += positive[i];
        }

        if (positives == 0 || negatives == 0)
        {
            return null;
        }

        var a = wins / ((double)positives * negatives);
        var q1 = a / (2 - a);
        var q2 = 2 * a * a / (1 + a);
        var variance = ((a * (1 - a)) + ((positives - 1) * (q1 - (a * a))) + ((negatives - 1) * (q2 - (a * a)))) / ((double)positives * negatives);
        return new AucEstimate(a, positives, negatives, Math.Max(0, variance));
    }

    /// <summary>
    /// The AUC of all units' histograms summed, with the grouped jackknife's variance over units
    /// (each unit's histograms left out in turn): (G − 1)/G · Σ (A₋ᵍ − Ā)². Units are independent,
    /// the predictions within one are not, so this variance is cluster-robust. Null when the sum
    /// lacks a label; the variance needs at least two units whose removal leaves both labels.
    /// </summary>
    public static AucEstimate? Jackknife(IReadOnlyList<(IReadOnlyList<long> Positive, IReadOnlyList<long> Negative)> units)
    {
        ArgumentNullException.ThrowIfNull(units);
        if (units.Count == 0)
        {
            return null;
        }

        var bins = units[0].Positive.Count;
        var positive = new long[bins];
        var negative = new long[bins];
        foreach (var (p, n) in units)
        {
            for (var i = 0; i < bins; i++)
            {
                positive[i] += p[i];
                negative[i] += n[i];
            }
        }

        if (FromHistograms(positive, negative) is not { } all)
        {
            return null;
        }

        var leftOut = new List<double>(units.Count);
        var p2 = new long[bins];
        var n2 = new long[bins];
        foreach (var (p, n) in units)
        {
            for (var i = 0; i < bins; i++)
            {
                p2[i] = positive[i] - p[i];
                n2[i] = negative[i] - n[i];
            }

            if (FromHistograms(p2, n2) is { } without)
            {
                leftOut.Add(without.Value);
            }
        }

        var g = leftOut.Count;
        if (g < 2)
        {
            return all with { Variance = 0 };
        }

        var mean = leftOut.Average();
        var variance = (g - 1.0) / g * leftOut.Sum(v => (v - mean) * (v - mean));
        return all with { Variance = variance };
    }
}
