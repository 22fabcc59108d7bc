namespace EdgePlatform.ControlPlane.Experiments.Statistics;

/// <summary>Count, sum and sum of squares of a metric over independent units: all a mean's test needs.</summary>
public readonly record struct SampleMoments(double Count, double Sum, double SumOfSquares)
{
    public double Mean => Count > 0 ? Sum / Count : double.NaN;

    /// <summary>The sample variance (divisor n − 1); 0 for fewer than two units.</summary>
    public double Variance => Count > 1 ? Math.Max(0, (SumOfSquares - (Sum * Sum / Count)) / (Count - 1)) : 0;

    public SampleMoments Add(double value) => new(Count + 1, Sum + value, SumOfSquares + (value * value));

    public static SampleMoments Of(IEnumerable<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var moments = default(SampleMoments);
        foreach (var value in values)
        {
            moments = moments.Add(value);
        }

        return moments;
    }

    public static SampleMoments operator +(SampleMoments a, SampleMoments b) => new(a.Count + b.Count, a.Sum + b.Sum, a.SumOfSquares + b.SumOfSquares);
}

/// <summary>
/// A ratio metric over independent units, each contributing a numerator and a denominator (a
/// device's correct and labelled predictions; a site's, when sites are assigned): the sums,
/// squares and cross products the delta method needs. The estimate is ΣX / ΣY, the metric as if
/// all events were pooled, with a variance that treats the unit, not the event, as independent.
/// </summary>
public readonly record struct RatioMoments(
    double Units,
    double NumeratorSum,
    double NumeratorSumOfSquares,
    double DenominatorSum,
    double DenominatorSumOfSquares,
    double CrossSum)
{
    public double Ratio => DenominatorSum != 0 ? NumeratorSum / DenominatorSum : double.NaN;

    /// <summary>
    /// Var(X̄ / Ȳ) ≈ (σx² / μy² − 2 μx σxy / μy³ + μx² σy² / μy⁴) / n, with sample (n − 1) moments;
    /// 0 for fewer than two units.
    /// </summary>
    public double RatioVariance
    {
        get
        {
            if (Units < 2 || DenominatorSum == 0)
            {
                return 0;
            }

            var n = Units;
            var mx = NumeratorSum / n;
            var my = DenominatorSum / n;
            var vx = (NumeratorSumOfSquares - (n * mx * mx)) / (n - 1);
            var vy = (DenominatorSumOfSquares - (n * my * my)) / (n - 1);
            var cxy = (CrossSum - (n * mx * my)) / (n - 1);
            var variance = ((vx / (my * my)) - (2 * mx * cxy / (my * my * my)) + (mx * mx * vy / (my * my * my * my))) / n;
            return Math.Max(0, variance);
        }
    }

    public RatioMoments Add(double numerator, double denominator) => new(
        Units + 1,
        NumeratorSum + numerator,
        NumeratorSumOfSquares + (numerator * numerator),
        DenominatorSum + denominator,
        DenominatorSumOfSquares + (denominator * denominator),
        CrossSum + (numerator * denominator));

    public static RatioMoments operator +(RatioMoments a, RatioMoments b) => new(
        a.Units + b.Units,
        a.NumeratorSum + b.NumeratorSum,
        a.NumeratorSumOfSquares + b.NumeratorSumOfSquares,
        a.DenominatorSum + b.DenominatorSum,
        a.DenominatorSumOfSquares + b.DenominatorSumOfSquares,
        a.CrossSum + b.CrossSum);
}
