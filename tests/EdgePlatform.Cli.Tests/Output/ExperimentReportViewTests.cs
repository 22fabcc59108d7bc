using EdgePlatform.Cli.Output;
using EdgePlatform.Contracts;
using Spectre.Console;

namespace EdgePlatform.Cli.Tests.Output;

public sealed class ExperimentReportViewTests
{
    [Fact]
    public void ToPlainText_TwoArms_EveryArmNumberUnderWhatItCounts()
    {
        var text = new ExperimentReportView(SampleExperimentReports.Make(arms: 2)).ToPlainText();
        var arms = Section(text, "ARMS (n per arm)");

        Assert.Equal(
            ["ARM", "MODEL", "SHARE (configured)", "UNITS (devices)", "DEVICES", "EVENTS SCORED", "LABELLED", "ACCURACY"],
            Cells(arms[0]));
        Assert.Equal(["control", "detector:1", "50.0%", "1,520", "1,520", "48,211", "12,034", "0.8012"], Cells(arms[1]));
        Assert.Equal(["treatment", "detector:2", "50.0%", "1,498", "1,498", "47,530", "11,877", "0.8231"], Cells(arms[2]));
    }

    [Fact]
    public void ToPlainText_TwoArms_ComparisonSaysTestIntervalKindCorrectionAndCuped()
    {
        var text = new ExperimentReportView(SampleExperimentReports.Make(arms: 2)).ToPlainText();
        var rows = Section(text, "COMPARISONS: accuracy");

        Assert.Equal(["ACCURACY", "treatment vs control"], Cells(rows[0]));
        Assert.Equal("1,520 / 1,498 devices", Row(rows, "units (control / arm)"));
        Assert.Equal("0.8012", Row(rows, "control value (accuracy)"));
        Assert.Equal("0.8231", Row(rows, "arm value (accuracy)"));
        Assert.Equal("+0.0219", Row(rows, "absolute difference (arm − control)"));
        Assert.Equal("[+0.0051, +0.0387] (95% confidence sequence)", Row(rows, "interval of the absolute difference"));
        Assert.Equal("+2.73%", Row(rows, "relative difference (arm / control − 1)"));
        Assert.Equal("[+0.64%, +4.83%] (95% confidence sequence)", Row(rows, "interval of the relative difference"));
        Assert.Equal("0.0031 (anytime-valid)", Row(rows, "p-value"));
        Assert.Equal("yes: arm better", Row(rows, "significant"));
        Assert.Equal("two-proportion z (two-proportion-z)", Row(rows, "test"));
        Assert.Equal("95% confidence sequence: anytime-valid, sequential (stays valid at every look)", Row(rows, "interval"));
        Assert.Equal("none", Row(rows, "correction (1 comparison vs control)"));
        Assert.Equal("yes: adjusted by each unit's pre-experiment metric", Row(rows, "CUPED"));
    }

    [Fact]
    public void ToPlainText_Header_SaysLooksAssignmentMetricAndGuardrails()
    {
        var text = new ExperimentReportView(SampleExperimentReports.Make(arms: 2, looks: 14)).ToPlainText();

        Assert.Contains("looks taken: 14", text, StringComparison.Ordinal);
        Assert.Contains("assignment:   by device; split: each unit is scored by its arm only; salt salt-91c2", text, StringComparison.Ordinal);
        Assert.Contains("metric:       accuracy from labelled feedback (higher is better)", text, StringComparison.Ordinal);
        Assert.Contains("guardrails:   p99 latency ≤ 50 ms, error rate ≤ 0.01 on every arm", text, StringComparison.Ordinal);
        Assert.Contains("control = detector:1 (50.0%) [control], treatment = detector:2 (50.0%)", text, StringComparison.Ordinal);
        Assert.Contains("α 0.05 (two-sided)", text, StringComparison.Ordinal);
        Assert.Contains("history: 28 estimate(s) over 14 look(s) for 1 metric(s)", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ToPlainText_ThreeArms_OneColumnPerComparisonWithItsOwnLevelAndCorrection()
    {
        var text = new ExperimentReportView(SampleExperimentReports.Make(arms: 3)).ToPlainText();
        var rows = Section(text, "COMPARISONS: accuracy");

        Assert.Equal(["ACCURACY", "treatment vs control", "wide vs control"], Cells(rows[0]));
        Assert.Equal(["bonferroni", "bonferroni"], Values(rows, "correction (2 comparisons vs control)"));
        Assert.Equal(["+0.0219", "-0.0224"], Values(rows, "absolute difference (arm − control)"));
        Assert.Equal("[-0.0391, -0.0057] (97.5% confidence interval)", Values(rows, "interval of the absolute difference")[1]);
        Assert.Equal("97.5% confidence interval: fixed-horizon (valid once, at the planned sample size)", Values(rows, "interval")[1]);
        Assert.Equal(["yes: arm better", "yes: arm worse"], Values(rows, "significant"));
        Assert.Equal("0.0042 (fixed-horizon)", Values(rows, "p-value")[1]);
        Assert.Equal("Welch's t (welch-t)", Values(rows, "test")[1]);
        Assert.Equal("no", Values(rows, "CUPED")[1]);
        Assert.Equal(4, Section(text, "ARMS (n per arm)").Count);
        Assert.Contains("33.3%", Section(text, "ARMS (n per arm)")[3], StringComparison.Ordinal);
    }

    [Fact]
    public void ToPlainText_NoSampleRatioMismatch_ShowsChiSquareAndNoAlarm()
    {
        var text = new ExperimentReportView(SampleExperimentReports.Make(arms: 2)).ToPlainText();

        Assert.Contains("SAMPLE RATIO (units per arm: chi-square 0.163, 1 df, p 0.6863; alarm below p 0.001)", text, StringComparison.Ordinal);
        Assert.Contains("sample ratio: no mismatch (chi-square 0.163, p 0.6863, not below the alarm level 0.001)", text, StringComparison.Ordinal);
        Assert.DoesNotContain("ALARM", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ToPlainText_SampleRatioMismatch_RaisesTheAlarmAboveTheTables()
    {
        var text = new ExperimentReportView(SampleExperimentReports.Make(arms: 2, srmAlarm: true)).ToPlainText();
        var sampleRatio = Section(text, "SAMPLE RATIO");

        Assert.Contains("ALARM: sample ratio mismatch: units did not split as configured (chi-square 30, p < 0.0001, below 0.001)", text, StringComparison.Ordinal);
        Assert.True(text.IndexOf("ALARM", StringComparison.Ordinal) < text.IndexOf("ARMS (n per arm)", StringComparison.Ordinal));
        Assert.Equal(["control", "1,650", "55.0%", "50.0%"], Cells(sampleRatio[1]));
        Assert.Equal(["treatment", "1,350", "45.0%", "50.0%"], Cells(sampleRatio[2]));
        Assert.Contains("sample ratio: MISMATCH", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ToPlainText_GuardrailBreached_ValueAgainstThresholdAndAlarm()
    {
        var text = new ExperimentReportView(SampleExperimentReports.Make(arms: 3, breached: true)).ToPlainText();
        var guardrails = Section(text, "GUARDRAILS (a breach stops the experiment)");

        Assert.Equal(["GUARDRAIL", "ARM", "VALUE", "THRESHOLD", "STATUS"], Cells(guardrails[0]));
        Assert.Equal(["p99-latency-ms", "treatment", "23.25", "≤ 50", "ok"], Cells(guardrails[1]));
        Assert.Equal(["p99-latency-ms", "wide", "61.75", "≤ 50", "BREACHED"], Cells(guardrails[2]));
        Assert.Contains("ALARM: guardrail p99-latency-ms breached on arm wide: 61.75 > 50", text, StringComparison.Ordinal);
        Assert.Contains("state:        stopped — guardrail p99-latency-ms breached on wide", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ToPlainText_Shadow_AgreementAndPairedDifference()
    {
        var text = new ExperimentReportView(SampleExperimentReports.Make(arms: 2, shadow: true)).ToPlainText();

        Assert.Contains("shadow agreement: 11,400 of 12,000 events scored by both arms got the same prediction (95.0%)", text, StringComparison.Ordinal);
        Assert.Contains("shadow paired difference (treatment − control, per labelled event): mean +0.0120, 95% interval [-0.0020, +0.0260] over 3,000 paired events", text, StringComparison.Ordinal);
        Assert.Contains("by event (value of field 'id'); shadow: every arm scores every event, only the control's prediction is published", text, StringComparison.Ordinal);
        Assert.Contains("UNITS (events)", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ToPlainText_NoShadow_NoShadowLines()
    {
        var text = new ExperimentReportView(SampleExperimentReports.Make(arms: 2, shadow: false)).ToPlainText();

        Assert.DoesNotContain("shadow agreement", text, StringComparison.Ordinal);
        Assert.DoesNotContain("paired difference", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ToPlainText_LowerIsBetterMetric_ANegativeDifferenceIsBetter()
    {
        var report = SampleExperimentReports.Make(arms: 3, metric: ExperimentMetricKinds.Mae);
        var text = new ExperimentReportView(report).ToPlainText();
        var rows = Section(text, "COMPARISONS: mae (lower is better)");

        Assert.Equal(["yes: arm worse", "yes: arm better"], Values(rows, "significant"));
        Assert.Contains("mean absolute error from labelled feedback (lower is better)", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ToPlainText_ArmWithoutLabels_SaysSoInsteadOfANumber()
    {
        var report = SampleExperimentReports.Make(arms: 2);
        report = report with { Arms = [report.Arms[0], report.Arms[1] with { Labelled = 0, Value = null }] };

        var arms = Section(new ExperimentReportView(report).ToPlainText(), "ARMS (n per arm)");

        Assert.Equal(["0", "- (no labelled data)"], Cells(arms[2])[^2..]);
    }

    [Fact]
    public void ToPlainText_ControlNamedOtherwise_IsMarkedAsTheControl()
    {
        var report = SampleExperimentReports.Make(arms: 2);
        report = report with
        {
            Experiment = report.Experiment with { Arms = [report.Experiment.Arms[0] with { Name = "baseline" }, report.Experiment.Arms[1]] },
            Arms = [report.Arms[0] with { Arm = "baseline" }, report.Arms[1]],
        };

        var arms = Section(new ExperimentReportView(report).ToPlainText(), "ARMS (n per arm)");

        Assert.Equal("baseline (control)", Cells(arms[1])[0]);
        Assert.Equal("treatment", Cells(arms[2])[0]);
    }

    [Fact]
    public void ToRenderable_Terminal_SaysWhatThePlainTextSays()
    {
        var view = new ExperimentReportView(SampleExperimentReports.Make(arms: 3, shadow: true, srmAlarm: true));
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 400;

        console.Write(view.ToRenderable());
        var drawn = writer.ToString();

        foreach (var fact in new[]
        {
            "looks taken: 14", "UNITS (events)", "EVENTS SCORED", "treatment vs control", "wide vs control",
            "+0.0219", "[+0.0051, +0.0387] (95% confidence sequence)", "97.5% confidence interval", "bonferroni", "0.0031 (anytime-valid)",
            "ALARM: sample ratio mismatch", "shadow agreement: 11,400 of 12,000", "p99-latency-ms", "≤ 50",
        })
        {
            Assert.Contains(fact, drawn, StringComparison.Ordinal);
        }
    }

    /// <summary>The lines of the section whose title starts with <paramref name="title"/>, header first, up to the blank line.</summary>
    private static List<string> Section(string text, string title)
    {
        var lines = text.Split('\n');
        var start = Array.FindIndex(lines, l => l.StartsWith(title, StringComparison.Ordinal));
        Assert.True(start >= 0, $"no section '{title}' in:\n{text}");
        return [.. lines.Skip(start + 1).TakeWhile(l => l.Length > 0)];
    }

    private static string[] Cells(string line) => line.Split("   ", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string[] Values(List<string> rows, string name)
    {
        var row = rows.Select(Cells).FirstOrDefault(cells => cells[0] == name);
        Assert.True(row is not null, $"no row '{name}' in:\n{string.Join('\n', rows)}");
        return row[1..];
    }

    private static string Row(List<string> rows, string name) => Assert.Single(Values(rows, name));
}
