using EdgePlatform.Contracts;

namespace EdgePlatform.Cli.Tests.Output;

/// <summary>Hand-made experiment reports with distinct, recognisable numbers, so a test can find each one in what is printed.</summary>
internal static class SampleExperimentReports
{
    private static readonly string[] ArmNames = ["control", "treatment", "wide"];

    public static readonly DateTimeOffset Start = new(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);

    public static ExperimentReport Make(int arms = 2, bool shadow = false, bool srmAlarm = false, bool breached = false, int looks = 14, string metric = ExperimentMetricKinds.Accuracy)
    {
        var names = ArmNames.Take(arms).ToList();
        var experiment = new ExperimentInfo(
            "exp-7f3a",
            "detector-ab",
            [.. names.Select((n, i) => new ExperimentArm(n, Model(i + 1), 1))],
            "site in (berlin,munich)",
            shadow ? ExperimentUnits.Event : ExperimentUnits.Device,
            null,
            "id",
            shadow ? ExperimentModes.Shadow : null,
            new ExperimentMetric(metric),
            new ExperimentGuardrails(MaxP99LatencyMs: 50, MaxErrorRate: 0.01),
            3,
            "salt-91c2",
            0.05,
            1000,
            breached ? ExperimentStates.Stopped : ExperimentStates.Running,
            Start,
            Start.AddDays(7),
            breached ? Start.AddDays(2) : null,
            breached ? "guardrail p99-latency-ms breached on wide" : null);

        var armReports = new List<ArmReport>
        {
            new("control", "detector:1", 1520, 1520, 48_211, 12_034, 0.8012, 21.5, 0.0012, 0.04),
            new("treatment", "detector:2", 1498, 1498, 47_530, 11_877, 0.8231, 23.25, 0.0015, 0.05),
            new("wide", "detector:3", 1507, 1507, 47_902, 11_950, 0.7788, breached ? 61.75 : 30.5, 0.0019, 0.06),
        };
        var comparisons = new List<MetricComparison>
        {
            new(metric, "treatment", "control", "two-proportion-z", true, 0.95, arms > 2 ? "bonferroni" : "none", 1520, 1498, 0.8012, 0.8231,
                0.0219, 0.0051, 0.0387, 0.0273, 0.0064, 0.0483, 0.0031, true, true),
            new(metric, "wide", "control", "welch-t", false, 0.975, "bonferroni", 1520, 1507, 0.8012, 0.7788,
                -0.0224, -0.0391, -0.0057, -0.0280, -0.0488, -0.0071, 0.0042, true, false),
        };
        var history = new List<ComparisonLook>();
        for (var look = 0; look < looks; look++)
        {
            var at = Start.AddHours(6 * (look + 1));
            var width = 0.08 / Math.Sqrt(look + 1);
            history.Add(new ComparisonLook(at, metric, "treatment", 0.02 + (0.0001 * look), 0.02 - width, 0.02 + width, false));
            history.Add(new ComparisonLook(at, metric, "treatment", 0.025, 0.025 - width, 0.025 + width, true));
            if (arms > 2)
            {
                history.Add(new ComparisonLook(at, metric, "wide", -0.022, -0.022 - width, -0.022 + width, false));
            }
        }

        return new ExperimentReport(
            experiment,
            Start.AddDays(3),
            looks,
            armReports.Take(arms).ToList(),
            srmAlarm
                ? new SampleRatioReport([1650, .. Enumerable.Repeat(1350L, arms - 1)], [.. names.Select(_ => 1.0 / arms)], 30.0, arms - 1, 4.3e-8, true)
                : new SampleRatioReport([.. armReports.Take(arms).Select(a => a.Units)], [.. names.Select(_ => 1.0 / arms)], 0.163, arms - 1, 0.6863, false),
            comparisons.Take(arms - 1).ToList(),
            [
                new GuardrailReport("p99-latency-ms", "treatment", 23.25, 50, false),
                .. arms > 2 ? [new GuardrailReport("p99-latency-ms", "wide", breached ? 61.75 : 30.5, 50, breached)] : Array.Empty<GuardrailReport>(),
            ],
            shadow ? new ShadowReport(12_000, 11_400, 0.95, 3_000, 0.012, -0.002, 0.026) : null,
            history);
    }

    private static ModelReference Model(int version) =>
        new("models/detector", "detector", version.ToString(System.Globalization.CultureInfo.InvariantCulture), $"sha256:{version:x64}", 512, "sig");
}
