namespace EdgePlatform.ControlPlane.Experiments.Statistics;

/// <summary>
/// The distribution functions the tests need, in plain C# so the control plane's core takes no
/// numerics dependency: the standard normal, Student's t and chi-square, through the regularized
/// incomplete gamma and beta functions (series and continued fractions as in Numerical Recipes,
/// ch. 6) and the Lanczos log-gamma. Accurate to about 1e-12 over the ranges experiments use.
/// </summary>
public static class Distributions
{
    private const double Epsilon = 1e-15;
    private const int MaxIterations = 10_000;

    /// <summary>P(Z ≤ x) for a standard normal Z.</summary>
    public static double NormalCdf(double x)
    {
        if (double.IsNaN(x))
        {
            return double.NaN;
        }

        // erfc(|x|/√2) = Q(1/2, x²/2).
        var tail = 0.5 * UpperGamma(0.5, x * x / 2);
        return x < 0 ? tail : 1 - tail;
    }

    /// <summary>P(Z &gt; x) for a standard normal Z, accurate in the far tail.</summary>
    public static double NormalSurvival(double x) => NormalCdf(-x);

    /// <summary>The x with P(Z ≤ x) = p: Acklam's rational approximation refined by Halley steps on <see cref="NormalCdf"/>.</summary>
    public static double NormalQuantile(double p)
    {
        if (!(p is > 0 and < 1))
        {
            return p == 0 ? double.NegativeInfinity : p == 1 ? double.PositiveInfinity : double.NaN;
        }

        double x;
        const double low = 0.02425;
        if (p < low)
        {
            var q = Math.Sqrt(-2 * Math.Log(p));
            x = (((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q - 2.400758277161838e+00) * q - 2.549732539343734e+00) * q + 4.374664141464968e+00) * q + 2.938163982698783e+00)
                / ((((7.784695709041462e-03 * q + 3.224671290700398e-01) * q + 2.445134137142996e+00) * q + 3.754408661907416e+00) * q + 1);
        }
        else if (p <= 1 - low)
        {
            var q = p - 0.5;
            var r = q * q;
            x = (((((-3.969683028665376e+01 * r + 2.209460984245205e+02) * r - 2.759285104469687e+02) * r + 1.383577518672690e+02) * r - 3.066479806614716e+01) * r + 2.506628277459239e+00) * q
                / (((((-5.447609879822406e+01 * r + 1.615858368580409e+02) * r - 1.556989798598866e+02) * r + 6.680131188771972e+01) * r - 1.328068155288572e+01) * r + 1);
        }
        else
        {
            var q = Math.Sqrt(-2 * Math.Log(1 - p));
            x = -(((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q - 2.400758277161838e+00) * q - 2.549732539343734e+00) * q + 4.374664141464968e+00) * q + 2.938163982698783e+00)
                / ((((7.784695709041462e-03 * q + 3.224671290700398e-01) * q + 2.445134137142996e+00) * q + 3.754408661907416e+00) * q + 1);
        }

        for (var i = 0; i < 3; i++)
        {
            var e = NormalCdf(x) - p;
            var u = e * Math.Sqrt(2 * Math.PI) * Math.Exp(x * x / 2);
            x -= u / (1 + (x * u / 2));
        }

        return x;
    }

    /// <summary>P(T ≤ t) for Student's t with <paramref name="degreesOfFreedom"/> (infinite: the normal).</summary>
    public static double StudentTCdf(double t, double degreesOfFreedom)
    {
        if (double.IsPositiveInfinity(degreesOfFreedom) || degreesOfFreedom > 1e7)
        {
            return NormalCdf(t);
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(degreesOfFreedom);
        var tail = StudentTTail(Math.Abs(t), degreesOfFreedom);
        return t < 0 ? tail : 1 - tail;
    }

    /// <summary>P(T &gt; t) for Student's t, accurate in the far tail (a p-value's 1 − CDF would round to 0).</summary>
    public static double StudentTSurvival(double t, double degreesOfFreedom)
    {
        if (double.IsPositiveInfinity(degreesOfFreedom) || degreesOfFreedom > 1e7)
        {
            return NormalSurvival(t);
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(degreesOfFreedom);
        var tail = StudentTTail(Math.Abs(t), degreesOfFreedom);
        return t < 0 ? 1 - tail : tail;
    }

    /// <summary>P(T &gt; |t|) = I_x(ν/2, 1/2) / 2 with x = ν/(ν + t²); 1 − x is passed as t²/(ν + t²), not subtracted, so small t keeps its digits.</summary>
    private static double StudentTTail(double t, double v)
    {
        if (double.IsNaN(t))
        {
            return double.NaN;
        }

        var t2 = t * t;
        return double.IsPositiveInfinity(t2) ? 0 : 0.5 * RegularizedBeta(v / 2, 0.5, v / (v + t2), t2 / (v + t2));
    }

    /// <summary>
    /// The t with P(T ≤ t) = p, by Newton steps on the upper tail P(T &gt; t) = 1 − p from the normal
    /// quantile, bisection-guarded. Working on the tail, not the CDF, keeps the relative precision
    /// of small tail probabilities (the 0.9995 quantile of t with one degree of freedom is 636.6).
    /// </summary>
    public static double StudentTQuantile(double p, double degreesOfFreedom)
    {
        if (double.IsPositiveInfinity(degreesOfFreedom) || degreesOfFreedom > 1e7)
        {
            return NormalQuantile(p);
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(degreesOfFreedom);
        if (!(p is > 0 and < 1))
        {
            return p == 0 ? double.NegativeInfinity : p == 1 ? double.PositiveInfinity : double.NaN;
        }

        if (p < 0.5)
        {
            return -StudentTQuantile(1 - p, degreesOfFreedom);
        }

        var tail = 1 - p;

        // The quantile lies above the normal's; double the bound until its tail is small enough.
        double lo = 0, hi = Math.Max(1, NormalQuantile(p));
        while (StudentTSurvival(hi, degreesOfFreedom) > tail)
        {
            lo = hi;
            hi *= 2;
        }

        var x = Math.Clamp(NormalQuantile(p), lo, hi);
        for (var i = 0; i < 200; i++)
        {
            var f = StudentTSurvival(x, degreesOfFreedom) - tail;
            if (Math.Abs(f) <= 1e-15 * tail)
            {
                break;
            }

            if (f > 0)
            {
                lo = x;
            }
            else
            {
                hi = x;
            }

            var next = x + (f / StudentTDensity(x, degreesOfFreedom));
            x = next > lo && next < hi ? next : (lo + hi) / 2;
            if (hi - lo < 1e-15 * Math.Max(1, Math.Abs(x)))
            {
                break;
            }
        }

        return x;
    }

    /// <summary>P(X &gt; x) for a chi-square X with <paramref name="degreesOfFreedom"/>.</summary>
    public static double ChiSquareSurvival(double x, double degreesOfFreedom)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(degreesOfFreedom);
        return x <= 0 ? 1 : UpperGamma(degreesOfFreedom / 2, x / 2);
    }

    /// <summary>ln Γ(x) for x &gt; 0 (Lanczos, g = 7, nine coefficients).</summary>
    public static double LogGamma(double x)
    {
        if (x < 0.5)
        {
            // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
            return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        }

        ReadOnlySpan<double> c =
        [
            0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
        ];
        x -= 1;
        var a = c[0];
        var t = x + 7.5;
        for (var i = 1; i < 9; i++)
        {
            a += c[i] / (x + i);
        }

        return (0.5 * Math.Log(2 * Math.PI)) + ((x + 0.5) * Math.Log(t)) - t + Math.Log(a);
    }

    private static double StudentTDensity(double t, double v) =>
        Math.Exp(LogGamma((v + 1) / 2) - LogGamma(v / 2) - (0.5 * Math.Log(v * Math.PI)) - ((v + 1) / 2 * Math.Log(1 + (t * t / v))));

    /// <summary>Q(a, x) = Γ(a, x) / Γ(a): the series for x &lt; a + 1, the continued fraction beyond.</summary>
    private static double UpperGamma(double a, double x)
    {
        if (x <= 0)
        {
            return 1;
        }

        var logPrefix = (a * Math.Log(x)) - x - LogGamma(a);
        if (x < a + 1)
        {
            double sum = 1 / a, term = sum, ap = a;
            for (var n = 0; n < MaxIterations; n++)
            {
                ap++;
                term *= x / ap;
                sum += term;
                if (Math.Abs(term) < Math.Abs(sum) * Epsilon)
                {
                    break;
                }
            }

            return 1 - (sum * Math.Exp(logPrefix));
        }

        // Modified Lentz.
        const double tiny = 1e-300;
        var b = x + 1 - a;
        var c = 1 / tiny;
        var d = 1 / b;
        var h = d;
        for (var i = 1; i < MaxIterations; i++)
        {
            var an = -i * (i - a);
            b += 2;
            d = (an * d) + b;
            d = Math.Abs(d) < tiny ? tiny : d;
            c = b + (an / c);
            c = Math.Abs(c) < tiny ? tiny : c;
            d = 1 / d;
            var delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < Epsilon)
            {
                break;
            }
        }

        return Math.Exp(logPrefix) * h;
    }

    /// <summary>I_x(a, b), the regularized incomplete beta function, given x and y = 1 − x computed without cancellation.</summary>
    private static double RegularizedBeta(double a, double b, double x, double y)
    {
        if (x <= 0)
        {
            return 0;
        }

        if (y <= 0)
        {
            return 1;
        }

        var front = Math.Exp(LogGamma(a + b) - LogGamma(a) - LogGamma(b) + (a * Math.Log(x)) + (b * Math.Log(y)));
        return x < (a + 1) / (a + b + 2)
            ? front * BetaFraction(a, b, x) / a
            : 1 - (front * BetaFraction(b, a, y) / b);
    }

    private static double BetaFraction(double a, double b, double x)
    {
        const double tiny = 1e-300;
        double qab = a + b, qap = a + 1, qam = a - 1;
        var c = 1.0;
        var d = 1 - (qab * x / qap);
        d = Math.Abs(d) < tiny ? tiny : d;
        d = 1 / d;
        var h = d;
        for (var m = 1; m < MaxIterations; m++)
        {
            var m2 = 2 * m;
            var aa = m * (b - m) * x / ((qam + m2) * (a + m2));
            d = 1 + (aa * d);
            d = Math.Abs(d) < tiny ? tiny : d;
            c = 1 + (aa / c);
            c = Math.Abs(c) < tiny ? tiny : c;
            d = 1 / d;
            h *= d * c;
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
            d = 1 + (aa * d);
            d = Math.Abs(d) < tiny ? tiny : d;
            c = 1 + (aa / c);
            c = Math.Abs(c) < tiny ? tiny : c;
            d = 1 / d;
            var delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < Epsilon)
            {
                break;
            }
        }

        return h;
    }
}
