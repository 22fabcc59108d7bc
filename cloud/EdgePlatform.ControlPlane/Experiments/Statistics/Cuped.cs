namespace EdgePlatform.ControlPlane.Experiments.Statistics;

/// <summary>A unit's metric during the experiment and before it (for CUPED), as numerator and denominator.</summary>
public readonly record struct CupedUnit(double Numerator, double Denominator, double PreNumerator, double PreDenominator);

/// <summary>
/// The arms' ratio metrics after CUPED: each arm's adjusted ratio and the variance of that
/// estimate, the same variances without adjustment, and the pooled θ that was used.
/// </summary>
public sealed record CupedAdjustment(
    double Theta,
    double ControlRatio,
    double ControlVariance,
    double ControlUnadjustedVariance,
    double TreatmentRatio,
    double TreatmentVariance,
    double TreatmentUnadjustedVariance)
{
    /// <summary>The share of the difference's variance that the pre-experiment metric removed.</summary>
    public double VarianceReduction
    {
        get
        {
            var before = ControlUnadjustedVariance + TreatmentUnadjustedVariance;
            return before > 0 ? 1 - ((ControlVariance + TreatmentVariance) / before) : 0;
        }
    }
}

/// <summary>
/// CUPED (Deng, Xu, Kohavi and Walker, "Improving the sensitivity of online controlled experiments
/// by utilizing pre-experiment data", WSDM 2013) on a ratio metric, through the delta method's
/// linearisation (Deng, Knoblich and Lu, "Applying the delta method in metric analytics", KDD
/// 2018): each unit's metric R = ΣX/ΣY becomes its influence Lᵢ = (Xᵢ − R·Yᵢ)/Ȳ, and its
/// pre-experiment metric likewise L⁰ᵢ. With θ = Cov(L, L⁰)/Var(L⁰) pooled within both arms, an arm's
/// adjusted ratio is R − θ(R⁰ₐᵣₘ − R⁰ₐₗₗ), with variance Var(L − θL⁰)/n. Randomisation makes the
/// pre-experiment ratios equal in expectation, so the adjustment removes noise and adds no bias.
/// A unit without pre-experiment data (0/0) has L⁰ = 0: it is adjusted as if it were at the mean.
/// </summary>
public static class Cuped
{
    public const string Test = "cuped-delta-method";

    /// <summary>The ratio metric's comparison after adjustment; units without a pre-experiment value are adjusted by the mean.</summary>
    public static EffectInterval Compare(IReadOnlyList<CupedUnit> control, IReadOnlyList<CupedUnit> treatment, EffectScale scale, TestOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var adjustment = Adjust(control, treatment);
        return TwoSampleTests.Compare(
            Test,
            adjustment.ControlRatio,
            adjustment.ControlVariance * control.Count,
            control.Count,
            adjustment.TreatmentRatio,
            adjustment.TreatmentVariance * treatment.Count,
            treatment.Count,
            scale,
            options,
            double.PositiveInfinity);
    }

    /// <summary>
    /// Both arms' adjusted ratios and variances. θ is 0 (no adjustment) when the pre-experiment
    /// metric does not vary or either arm has no pre-experiment denominator at all.
    /// </summary>
    public static CupedAdjustment Adjust(IReadOnlyList<CupedUnit> control, IReadOnlyList<CupedUnit> treatment)
    {
        ArgumentNullException.ThrowIfNull(control);
        ArgumentNullException.ThrowIfNull(treatment);
        var c = Linearise(control, nameof(control));
        var t = Linearise(treatment, nameof(treatment));

        var preVariation = c.PreSquares + t.PreSquares;
        var canAdjust = c.HasPre && t.HasPre && preVariation > 0;
        var theta = canAdjust ? (c.CrossProducts + t.CrossProducts) / preVariation : 0;
        var pooledPreRatio = canAdjust ? (c.PreNumeratorSum + t.PreNumeratorSum) / (c.PreDenominatorSum + t.PreDenominatorSum) : 0;

        return new CupedAdjustment(
            theta,
            c.Ratio - (canAdjust ? theta * (c.PreRatio - pooledPreRatio) : 0),
            c.AdjustedVariance(theta),
            c.AdjustedVariance(0),
            t.Ratio - (canAdjust ? theta * (t.PreRatio - pooledPreRatio) : 0),
            t.AdjustedVariance(theta),
            t.AdjustedVariance(0));
    }

    private static ArmLinearisation Linearise(IReadOnlyList<CupedUnit> units, string arm)
    {
        var n = units.Count;
        if (n < 2)
        {
            throw new InvalidOperationException($"the {arm} arm needs at least two units to estimate a variance (got {n})");
        }

        double x = 0, y = 0, x0 = 0, y0 = 0;
        foreach (var unit in units)
        {
            if (!double.IsFinite(unit.Numerator) || !double.IsFinite(unit.Denominator) || !double.IsFinite(unit.PreNumerator) || !double.IsFinite(unit.PreDenominator))
            {
                throw new ArgumentException($"the {arm} arm has a unit with a value that is not a finite number", arm);
            }

            x += unit.Numerator;
            y += unit.Denominator;
            x0 += unit.PreNumerator;
            y0 += unit.PreDenominator;
        }

        if (y == 0)
        {
            throw new InvalidOperationException($"the {arm} arm's metric has a denominator of 0 (no events)");
        }

        var ratio = x / y;
        var meanDenominator = y / n;
        var hasPre = y0 != 0;
        var preRatio = hasPre ? x0 / y0 : 0;
        var meanPreDenominator = y0 / n;

        // The influences sum to 0 within the arm, so their sums of products are already centred.
        double ll = 0, lp = 0, pp = 0;
        foreach (var unit in units)
        {
            var l = (unit.Numerator - (ratio * unit.Denominator)) / meanDenominator;
            var p = hasPre ? (unit.PreNumerator - (preRatio * unit.PreDenominator)) / meanPreDenominator : 0;
            ll += l * l;
            lp += l * p;
            pp += p * p;
        }

        return new ArmLinearisation(n, ratio, preRatio, x0, y0, hasPre, ll, lp, pp);
    }

    private sealed record ArmLinearisation(
        int Units,
        double Ratio,
        double PreRatio,
        double PreNumeratorSum,
        double PreDenominatorSum,
        bool HasPre,
        double Squares,
        double CrossProducts,
        double PreSquares)
    {
        /// <summary>Var(L − θL⁰)/n with the sample (n − 1) variance.</summary>
        public double AdjustedVariance(double theta) =>
            Math.Max(0, Squares - (2 * theta * CrossProducts) + (theta * theta * PreSquares)) / (Units - 1) / Units;
    }
}
