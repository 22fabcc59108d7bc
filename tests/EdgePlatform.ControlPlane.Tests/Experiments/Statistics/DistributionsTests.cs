using EdgePlatform.ControlPlane.Experiments.Statistics;

namespace EdgePlatform.ControlPlane.Tests.Experiments.Statistics;

/// <summary>
/// Every expected value is scipy 1.10.1's (Debian's /usr/bin/python3), printed by
/// reference_values.py beside this file:
/// <c>/usr/bin/python3 tests/EdgePlatform.ControlPlane.Tests/Experiments/Statistics/reference_values.py</c>
/// (lines "normal.cdf", "normal.ppf", "t.cdf", "t.sf", "t.ppf", "chi2.sf", "lgamma": inputs, then the value).
/// The grid covers the far tails and one to three degrees of freedom, where approximations break first.
/// </summary>
public sealed class DistributionsTests
{
    [Theory]
    [InlineData(-37.5, 4.605353009581954e-308)]
    [InlineData(-10, 7.61985302416047e-24)]
    [InlineData(-5, 2.866515718791933e-07)]
    [InlineData(-3, 0.0013498980316300933)]
    [InlineData(-1.96, 0.024997895148220435)]
    [InlineData(-0.5, 0.3085375387259869)]
    [InlineData(0, 0.5)]
    [InlineData(0.3, 0.6179114221889526)]
    [InlineData(1, 0.8413447460685429)]
    [InlineData(2.5, 0.9937903346742238)]
    [InlineData(8, 0.9999999999999993)]
    public void NormalCdf_MatchesScipy(double x, double expected) => Close.Assert(expected, Distributions.NormalCdf(x), 1e-10);

    [Theory]
    [InlineData(1e-300, -37.0470962993612)]
    [InlineData(1e-10, -6.361340902404056)]
    [InlineData(0.0001, -3.7190164854556804)]
    [InlineData(0.025, -1.9599639845400545)]
    [InlineData(0.3, -0.5244005127080409)]
    [InlineData(0.5, 0.0)]
    [InlineData(0.975, 1.959963984540054)]
    [InlineData(0.999999, 4.753424308817087)]
    public void NormalQuantile_MatchesScipy(double p, double expected) => Close.Assert(expected, Distributions.NormalQuantile(p), 1e-10);

    [Theory]
    [InlineData(-50, 1, 0.006365349100972797)]
    [InlineData(-3, 1, 0.10241638234956672)]
    [InlineData(-1, 1, 0.24999999999999978)]
    [InlineData(0.001, 1, 0.5003183097800805)]
    [InlineData(2, 1, 0.8524163823495667)]
    [InlineData(10, 1, 0.9682744825694464)]
    [InlineData(-50, 2, 0.00019988007994404026)]
    [InlineData(-3, 2, 0.047732983133354556)]
    [InlineData(-1, 2, 0.21132486540518713)]
    [InlineData(0.001, 2, 0.5003535533022049)]
    [InlineData(2, 2, 0.908248290463863)]
    [InlineData(10, 2, 0.9950737714883371)]
    [InlineData(-50, 3, 8.808576020635976e-06)]
    [InlineData(-3, 3, 0.028834442811218657)]
    [InlineData(-1, 3, 0.19550110947788527)]
    [InlineData(0.001, 3, 0.5003675525152695)]
    [InlineData(2, 3, 0.9303370157205785)]
    [InlineData(10, 3, 0.9989358004707929)]
    [InlineData(-50, 5, 3.023878813300617e-08)]
    [InlineData(-3, 5, 0.015049623948731284)]
    [InlineData(-1, 5, 0.18160873382456127)]
    [InlineData(0.001, 5, 0.5003796066139011)]
    [InlineData(2, 5, 0.9490302605850709)]
    [InlineData(10, 5, 0.9999145262121285)]
    [InlineData(-50, 10, 1.2371551646513438e-13)]
    [InlineData(-3, 10, 0.006671827511284783)]
    [InlineData(-1, 10, 0.17044656615103004)]
    [InlineData(0.001, 10, 0.5003891083126295)]
    [InlineData(2, 10, 0.9633059826146297)]
    [InlineData(10, 10, 0.9999992052234122)]
    [InlineData(-50, 30, 9.357708829611422e-31)]
    [InlineData(-3, 30, 0.002694982032825972)]
    [InlineData(-1, 30, 0.16265430771301492)]
    [InlineData(0.001, 30, 0.5003956321167575)]
    [InlineData(2, 30, 0.9726874775185085)]
    [InlineData(10, 30, 0.9999999999771237)]
    [InlineData(-50, 1000, 1.3793362061624403e-274)]
    [InlineData(-3, 1000, 0.0013833545221190939)]
    [InlineData(-1, 1000, 0.1587762090423363)]
    [InlineData(0.001, 1000, 0.5003988424907737)]
    [InlineData(2, 1000, 0.9771148267533741)]
    [InlineData(10, 1000, 1.0)]
    [InlineData(-50, 1e5, 0.0)]
    [InlineData(-3, 1e5, 0.0013502304420323597)]
    [InlineData(-1, 1e5, 0.1586564637820551)]
    [InlineData(0.001, 1e5, 0.500398941216556)]
    [InlineData(2, 1e5, 0.9772485182712468)]
    [InlineData(10, 1e5, 1.0)]
    public void StudentTCdf_MatchesScipy(double t, double degreesOfFreedom, double expected) =>
        Close.Assert(expected, Distributions.StudentTCdf(t, degreesOfFreedom), 1e-9);

    [Theory]
    [InlineData(40, 1, 0.007956089912025812)]
    [InlineData(40, 2, 0.0003122073360923703)]
    [InlineData(40, 3, 1.719034039457927e-05)]
    [InlineData(40, 5, 9.205981085886476e-08)]
    [InlineData(40, 10, 1.1404288715428737e-12)]
    [InlineData(40, 30, 6.863022597203181e-28)]
    [InlineData(40, 1000, 5.239426077586736e-210)]
    [InlineData(40, 1e5, 0.0)]
    public void StudentTSurvival_FarTail_MatchesScipy(double t, double degreesOfFreedom, double expected) =>
        Close.Assert(expected, Distributions.StudentTSurvival(t, degreesOfFreedom), 1e-9);

    [Theory]
    [InlineData(0.975, 1, 12.706204736432095)]
    [InlineData(0.9995, 1, 636.6192494318557)]
    [InlineData(0.975, 2, 4.302652729911275)]
    [InlineData(0.9995, 2, 31.599054577041514)]
    [InlineData(0.975, 3, 3.182446305284263)]
    [InlineData(0.9995, 3, 12.923978636637424)]
    [InlineData(0.975, 5, 2.5705818366147395)]
    [InlineData(0.9995, 5, 6.868826639865215)]
    [InlineData(0.975, 10, 2.2281388519649385)]
    [InlineData(0.9995, 10, 4.586893858703131)]
    [InlineData(0.975, 30, 2.0422724563012373)]
    [InlineData(0.9995, 30, 3.6459586349971502)]
    [InlineData(0.975, 1000, 1.9623390808264074)]
    [InlineData(0.9995, 1000, 3.300282648423858)]
    [InlineData(0.975, 1e5, 1.9599877075346093)]
    [InlineData(0.9995, 1e5, 3.2906240314119133)]
    public void StudentTQuantile_MatchesScipy(double p, double degreesOfFreedom, double expected) =>
        Close.Assert(expected, Distributions.StudentTQuantile(p, degreesOfFreedom), 1e-8);

    /// <summary>
    /// scipy's t.ppf is itself good to about 1e-9 in the tail (its own t.sf of t.ppf(0.9995, 1) is
    /// 0.00049999999948), hence 1e-8 above; with one degree of freedom t is Cauchy and the quantile
    /// has the closed form tan(π(p − ½)), which this matches to 1e-11.
    /// </summary>
    [Theory]
    [InlineData(0.975)]
    [InlineData(0.9995)]
    public void StudentTQuantile_OneDegreeOfFreedom_MatchesCauchyClosedForm(double p) =>
        Close.Assert(Math.Tan(Math.PI * (p - 0.5)), Distributions.StudentTQuantile(p, 1), 1e-11);

    [Theory]
    [InlineData(0.001, 1, 0.9747728793699604)]
    [InlineData(1, 1, 0.31731050786291115)]
    [InlineData(5, 1, 0.025347318677468325)]
    [InlineData(20, 1, 7.744216431044088e-06)]
    [InlineData(200, 1, 2.0884875837625688e-45)]
    [InlineData(0.001, 2, 0.9995001249791693)]
    [InlineData(1, 2, 0.6065306597126334)]
    [InlineData(5, 2, 0.0820849986238988)]
    [InlineData(20, 2, 4.539992976248486e-05)]
    [InlineData(200, 2, 3.7200759760208177e-44)]
    [InlineData(0.001, 3, 0.9999915920809419)]
    [InlineData(1, 3, 0.8012519569012009)]
    [InlineData(5, 3, 0.1717971442967335)]
    [InlineData(20, 3, 0.00016974243555282632)]
    [InlineData(200, 3, 4.218541107192018e-43)]
    [InlineData(0.001, 10, 1.0)]
    [InlineData(1, 10, 0.9998278843700441)]
    [InlineData(5, 10, 0.8911780189141513)]
    [InlineData(20, 10, 0.029252688076961124)]
    [InlineData(200, 10, 1.6139305336977317e-37)]
    [InlineData(0.001, 100, 1.0)]
    [InlineData(1, 100, 1.0)]
    [InlineData(5, 100, 1.0)]
    [InlineData(20, 100, 1.0)]
    [InlineData(200, 100, 1.1784500720979781e-08)]
    public void ChiSquareSurvival_MatchesScipy(double x, double degreesOfFreedom, double expected) =>
        Close.Assert(expected, Distributions.ChiSquareSurvival(x, degreesOfFreedom), 1e-9);

    [Theory]
    [InlineData(0.1, 2.252712651734206)]
    [InlineData(0.5, 0.5723649429247)]
    [InlineData(1, 0.0)]
    [InlineData(2.5, 0.2846828704729192)]
    [InlineData(10, 12.801827480081469)]
    [InlineData(171.3, 708.1149470389971)]
    [InlineData(1e5, 1051287.7089736569)]
    public void LogGamma_MatchesScipy(double x, double expected) => Close.Assert(expected, Distributions.LogGamma(x), 1e-12);

    [Fact]
    public void StudentTQuantile_InvertsTheCdf_AtLowerTail() =>
        Close.Assert(-12.706204736432095, Distributions.StudentTQuantile(0.025, 1), 1e-9);
}
