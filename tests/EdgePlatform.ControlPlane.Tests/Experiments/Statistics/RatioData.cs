using EdgePlatform.ControlPlane.Experiments.Statistics;

namespace EdgePlatform.ControlPlane.Tests.Experiments.Statistics;

/// <summary>
/// 40 devices per arm: correct and labelled predictions during the experiment and before it,
/// drawn once by reference_values.py (numpy default_rng(20261207); each device has its own
/// skill, which its pre-experiment accuracy shares, so CUPED has something to remove).
/// </summary>
internal static class RatioData
{
    public static readonly double[] ControlCorrect = [25, 6, 21, 3, 26, 22, 19, 31, 12, 19, 7, 10, 21, 19, 25, 24, 18, 19, 15, 9, 19, 27, 18, 8, 26, 9, 30, 10, 20, 7, 15, 6, 10, 8, 11, 14, 27, 20, 13, 4];

    public static readonly double[] ControlLabelled = [37, 8, 27, 5, 35, 35, 33, 39, 19, 25, 13, 16, 37, 27, 38, 34, 32, 24, 23, 15, 28, 30, 25, 10, 34, 10, 35, 13, 30, 10, 22, 9, 18, 10, 16, 23, 32, 30, 15, 6];

    public static readonly double[] ControlPreCorrect = [12, 26, 10, 14, 18, 11, 16, 11, 3, 16, 16, 11, 3, 13, 22, 15, 27, 29, 12, 5, 8, 25, 22, 13, 20, 21, 17, 19, 17, 29, 15, 17, 9, 30, 6, 9, 19, 3, 4, 7];

    public static readonly double[] ControlPreLabelled = [17, 35, 14, 24, 25, 17, 27, 14, 5, 21, 36, 18, 6, 19, 34, 22, 39, 37, 19, 9, 11, 30, 32, 16, 25, 23, 21, 28, 26, 34, 21, 26, 19, 38, 9, 14, 25, 5, 5, 10];

    public static readonly double[] TreatmentCorrect = [17, 9, 20, 4, 18, 8, 10, 5, 30, 9, 19, 9, 25, 9, 10, 6, 12, 13, 6, 4, 9, 3, 18, 20, 4, 4, 17, 6, 27, 18, 11, 14, 25, 22, 27, 10, 26, 21, 8, 25];

    public static readonly double[] TreatmentLabelled = [21, 13, 29, 5, 25, 12, 14, 8, 37, 15, 24, 13, 34, 11, 14, 9, 16, 19, 8, 5, 11, 5, 21, 26, 5, 5, 28, 10, 39, 25, 16, 22, 39, 28, 38, 16, 36, 28, 10, 33];

    public static readonly double[] TreatmentPreCorrect = [14, 20, 16, 10, 23, 18, 4, 16, 20, 4, 6, 11, 5, 4, 20, 18, 3, 20, 12, 16, 21, 3, 5, 16, 23, 21, 21, 20, 22, 22, 25, 19, 20, 8, 25, 6, 20, 3, 15, 20];

    public static readonly double[] TreatmentPreLabelled = [20, 33, 25, 15, 33, 27, 5, 23, 24, 8, 8, 15, 6, 5, 28, 27, 5, 30, 17, 21, 26, 5, 6, 25, 30, 30, 36, 31, 32, 32, 35, 37, 32, 11, 37, 10, 29, 5, 21, 27];

    public static RatioMoments Moments(double[] numerators, double[] denominators) =>
        numerators.Zip(denominators).Aggregate(default(RatioMoments), (m, u) => m.Add(u.First, u.Second));

    public static CupedUnit[] Units(double[] numerators, double[] denominators, double[] preNumerators, double[] preDenominators) =>
        [.. numerators.Select((x, i) => new CupedUnit(x, denominators[i], preNumerators[i], preDenominators[i]))];
}
