namespace EdgePlatform.ControlPlane.Experiments.Statistics;

/// <summary>
/// The asymptotic confidence sequence of Waudby-Smith et al. ("Time-uniform central limit theory
/// and asymptotic confidence sequences", 2021), as GrowthBook's sequential engine uses it: with N
/// units in all, per-unit variance s² = Var(estimate)·N and ρ² = (−2 ln α + ln(−2 ln α + 1)) / n*,
/// the half-width is s·√(2(Nρ² + 1) / (N²ρ²) · ln(√(Nρ² + 1) / α)). It holds at every N at once,
/// so the interval can be looked at after every batch without the false-positive rate growing;
/// n* (the tuning parameter) is where it is tightest.
/// </summary>
public static class ConfidenceSequence
{
    public static double HalfWidth(double estimateVariance, double totalUnits, double alpha, double tuning)
    {
        if (totalUnits <= 0 || estimateVariance <= 0)
        {
            return estimateVariance <= 0 ? 0 : double.PositiveInfinity;
        }

        var rho2 = Rho2(alpha, tuning);
        var n = totalUnits;
        var s2 = estimateVariance * n;
        var scaled = (n * rho2) + 1;
        return Math.Sqrt(s2) * Math.Sqrt(2 * scaled / (n * n * rho2) * Math.Log(Math.Sqrt(scaled) / alpha));
    }

    /// <summary>
    /// The anytime-valid p-value: the smallest α whose sequence, tuned the same way, excludes 0
    /// (found by bisection on ln α; ρ depends on α, so there is no closed form).
    /// </summary>
    public static double PValue(double estimate, double estimateVariance, double totalUnits, double tuning)
    {
        if (estimateVariance <= 0)
        {
            return estimate == 0 ? 1 : 0;
        }

        if (HalfWidth(estimateVariance, totalUnits, 1 - 1e-12, tuning) >= Math.Abs(estimate))
        {
            return 1;
        }

        double lo = Math.Log(1e-300), hi = Math.Log(1 - 1e-12);
        if (HalfWidth(estimateVariance, totalUnits, Math.Exp(lo), tuning) < Math.Abs(estimate))
        {
            return 0;
        }

        for (var i = 0; i < 200 && hi - lo > 1e-12; i++)
        {
            var mid = (lo + hi) / 2;
            if (HalfWidth(estimateVariance, totalUnits, Math.Exp(mid), tuning) < Math.Abs(estimate))
            {
                hi = mid;
            }
            else
            {
                lo = mid;
            }
        }

        return Math.Exp(hi);
    }

    private static double Rho2(double alpha, double tuning)
    {
        var l = -2 * Math.Log(alpha);
        return (l + Math.Log(l + 1)) / tuning;
    }
}
