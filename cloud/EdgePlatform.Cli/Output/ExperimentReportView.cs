using System.Globalization;
using System.Text;
using EdgePlatform.Contracts;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace EdgePlatform.Cli.Output;

/// <summary>
/// An experiment's report for people. Every number carries what it is: counts say what they count,
/// intervals their level and kind (a confidence sequence valid at every look, or a fixed-horizon
/// interval), comparisons their test, correction and CUPED. Built once as fields, tables and alarms,
/// then written either as plain text (pipes, files, tests) or drawn with Spectre.Console (terminals),
/// so both say the same.
/// </summary>
public sealed class ExperimentReportView
{
    /// <summary>A titled table.</summary>
    public sealed record Section(string Title, IReadOnlyList<string> Headers, IReadOnlyList<IReadOnlyList<string>> Rows);

    public ExperimentReportView(ExperimentReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        Report = report;
        var experiment = report.Experiment;
        var fields = Describe(experiment).ToList();
        fields.Add(("analysis", $"at {Render.Time(report.At)}; looks taken: {report.Looks} (every analysis counts; sequential intervals stay valid at each look)"));
        Fields = fields;

        var sections = new List<Section> { ArmsSection(report) };
        sections.AddRange(report.Comparisons.GroupBy(c => c.Metric, StringComparer.Ordinal).Select(g => ComparisonSection(report, g.Key, [.. g])));
        sections.Add(SampleRatioSection(report));
        if (report.Guardrails.Count > 0)
        {
            sections.Add(GuardrailSection(report));
        }

        Sections = sections;
        Notes = NotesOf(report);
        Alarms = AlarmsOf(report);
    }

    public ExperimentReport Report { get; }

    /// <summary>The experiment and the analysis, as <c>name: value</c> lines.</summary>
    public IReadOnlyList<(string Name, string Value)> Fields { get; }

    public IReadOnlyList<Section> Sections { get; }

    /// <summary>Lines under the tables: the sample-ratio verdict, shadow agreement, history.</summary>
    public IReadOnlyList<string> Notes { get; }

    /// <summary>What a reader must not miss: a sample-ratio mismatch, a breached guardrail.</summary>
    public IReadOnlyList<string> Alarms { get; }

    /// <summary>The experiment as created, for <c>status</c> and the head of the report.</summary>
    public static IReadOnlyList<(string Name, string Value)> Describe(ExperimentInfo experiment)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        var state = experiment.State;
        if (experiment.Reason is { } reason)
        {
            state += $" — {reason}";
        }

        if (experiment.PromotedRollout is { } rollout)
        {
            state += $"; promoted into rollout {rollout}";
        }

        var period = $"created {Render.Time(experiment.CreatedAt)}";
        period += experiment.StoppedAt is { } stopped ? $", stopped {Render.Time(stopped)}" : string.Empty;
        period += experiment.EndsAt is { } ends ? $", ends {Render.Time(ends)}" : ", no end date";
        return
        [
            ("experiment", $"{experiment.Name} ({experiment.Id})"),
            ("state", state),
            ("period", period),
            ("population", $"devices matching \"{experiment.Selector}\", priority {experiment.Priority}"),
            ("assignment", Assignment(experiment)),
            ("arms", string.Join(", ", Shares(experiment).Select((a, i) => $"{a.Name} = {ModelName(a.Model)} ({Percent(a.Share)})" + (i == 0 ? " [control]" : string.Empty)))),
            ("metric", MetricDescription(experiment.Metric)),
            ("guardrails", Guardrails(experiment.Guardrails)),
            ("significance", $"α {Number(experiment.Alpha, "0.####")} (two-sided), sequential tuning {Number(experiment.SequentialTuning, "0.##")} (the sample size at which the confidence sequence is tightest)"),
        ];
    }

    /// <summary>The arms with their configured shares (weights normalised).</summary>
    public static IReadOnlyList<(string Name, ModelReference Model, double Share)> Shares(ExperimentInfo experiment)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        var total = experiment.Arms.Sum(a => a.Weight);
        return [.. experiment.Arms.Select(a => (a.Name, a.Model, total > 0 ? a.Weight / total : 1.0 / experiment.Arms.Count))];
    }

    public string ToPlainText()
    {
        var text = new StringBuilder();
        var width = Fields.Max(f => f.Name.Length) + 1;
        foreach (var (name, value) in Fields)
        {
            text.Append($"{name}:".PadRight(width)).Append(' ').Append(value).Append('\n');
        }

        foreach (var alarm in Alarms)
        {
            text.Append("ALARM: ").Append(alarm).Append('\n');
        }

        foreach (var section in Sections)
        {
            text.Append('\n').Append(section.Title).Append('\n').Append(TableWriter.Format(section.Headers, section.Rows));
        }

        text.Append('\n');
        foreach (var note in Notes)
        {
            text.Append(note).Append('\n');
        }

        return text.ToString();
    }

    public IRenderable ToRenderable()
    {
        var header = new Grid().AddColumn().AddColumn();
        foreach (var (name, value) in Fields)
        {
            header.AddRow($"[bold]{Markup.Escape(name)}[/]", Markup.Escape(value));
        }

        var parts = new List<IRenderable> { header };
        parts.AddRange(Alarms.Select(alarm => new Markup($"[bold red]ALARM:[/] [red]{Markup.Escape(alarm)}[/]")));
        foreach (var section in Sections)
        {
            var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(section.Title));
            foreach (var column in section.Headers)
            {
                table.AddColumn(Markup.Escape(column));
            }

            foreach (var row in section.Rows)
            {
                table.AddRow([.. row.Select((cell, i) => new Markup(Colour(cell, i == 0)))]);
            }

            parts.Add(table);
        }

        parts.AddRange(Notes.Select(note => new Markup(Markup.Escape(note))));
        return new Rows(parts);
    }

    // Verdicts stand out in a terminal; the words are the same as in plain text.
    private static string Colour(string cell, bool rowName)
    {
        var escaped = Markup.Escape(cell);
        return rowName ? escaped : cell switch
        {
            _ when cell.StartsWith("yes: arm better", StringComparison.Ordinal) => $"[green]{escaped}[/]",
            _ when cell.StartsWith("yes: arm worse", StringComparison.Ordinal) => $"[red]{escaped}[/]",
            _ when cell.StartsWith("BREACHED", StringComparison.Ordinal) => $"[bold red]{escaped}[/]",
            _ => escaped,
        };
    }

    private static Section ArmsSection(ExperimentReport report)
    {
        var shares = Shares(report.Experiment).ToDictionary(a => a.Name, a => a.Share, StringComparer.Ordinal);
        var control = report.Experiment.Arms.Count > 0 ? report.Experiment.Arms[0].Name : null;
        var units = UnitNoun(report.Experiment);
        return new Section(
            "ARMS (n per arm)",
            ["ARM", "MODEL", "SHARE (configured)", $"UNITS ({units})", "DEVICES", "EVENTS SCORED", "LABELLED", MetricHeader(report.Experiment.Metric)],
            [
                .. report.Arms.Select(arm => (IReadOnlyList<string>)
                [
                    // The first arm is the control; say so unless its name already does.
                    arm.Arm == control && !arm.Arm.Equals("control", StringComparison.OrdinalIgnoreCase) ? $"{arm.Arm} (control)" : arm.Arm,
                    arm.Model,
                    shares.TryGetValue(arm.Arm, out var share) ? Percent(share) : "-",
                    Count(arm.Units),
                    Count(arm.Devices),
                    Count(arm.Scored),
                    Count(arm.Labelled),
                    arm.Value is { } value ? Value(value) : "- (no labelled data)",
                ]),
            ]);
    }

    private static Section ComparisonSection(ExperimentReport report, string metric, IReadOnlyList<MetricComparison> comparisons)
    {
        var units = UnitNoun(report.Experiment);
        var lowerIsBetter = ExperimentMetricKinds.LowerIsBetter(metric);
        string Level(MetricComparison c) => $"{Number(c.Level * 100, "0.##")}% {(c.Sequential ? "confidence sequence" : "confidence interval")}";
        var rows = new List<(string Name, Func<MetricComparison, string> Value)>
        {
            ("units (control / arm)", c => $"{Count(c.ControlUnits)} / {Count(c.ArmUnits)} {units}"),
            ($"control value ({metric})", c => Value(c.ControlValue)),
            ($"arm value ({metric})", c => Value(c.ArmValue)),
            ("absolute difference (arm − control)", c => Signed(c.AbsoluteDifference)),
            ("  interval of the absolute difference", c => $"[{Signed(c.AbsoluteLower)}, {Signed(c.AbsoluteUpper)}] ({Level(c)})"),
            ("relative difference (arm / control − 1)", c => SignedPercent(c.RelativeDifference)),
            ("  interval of the relative difference", c => $"[{SignedPercent(c.RelativeLower)}, {SignedPercent(c.RelativeUpper)}] ({Level(c)})"),
            ("p-value", c => c.PValue is { } p ? PValue(p) + (c.Sequential ? " (anytime-valid)" : " (fixed-horizon)") : "-"),
            ("significant", c => Verdict(c, lowerIsBetter)),
            ("test", c => TestName(c.Test)),
            ("interval", c => c.Sequential
                ? $"{Level(c)}: anytime-valid, sequential (stays valid at every look)"
                : $"{Level(c)}: fixed-horizon (valid once, at the planned sample size)"),
            ($"correction ({comparisons.Count} comparison{(comparisons.Count == 1 ? string.Empty : "s")} vs control)", c => c.Correction),
            ("CUPED", c => c.Cuped ? "yes: adjusted by each unit's pre-experiment metric" : "no"),
        };
        return new Section(
            $"COMPARISONS: {metric}{(lowerIsBetter ? " (lower is better)" : string.Empty)}",
            [$"{metric.ToUpperInvariant()}", .. comparisons.Select(c => $"{c.Arm} vs {c.Control}")],
            [.. rows.Select(row => (IReadOnlyList<string>)[row.Name, .. comparisons.Select(row.Value)])]);
    }

    private static Section SampleRatioSection(ExperimentReport report)
    {
        var ratio = report.SampleRatio;
        var observedTotal = ratio.Observed.Sum();
        var names = report.Experiment.Arms.Select(a => a.Name).ToList();
        return new Section(
            $"SAMPLE RATIO (units per arm: chi-square {Number(ratio.ChiSquare, "0.###")}, {ratio.DegreesOfFreedom} df, p {PValue(ratio.PValue)}; alarm below p 0.001)",
            ["ARM", $"OBSERVED UNITS ({UnitNoun(report.Experiment)})", "OBSERVED SHARE", "EXPECTED SHARE"],
            [
                .. ratio.Observed.Select((observed, i) => (IReadOnlyList<string>)
                [
                    i < names.Count ? names[i] : $"arm {i + 1}",
                    Count(observed),
                    observedTotal > 0 ? Percent((double)observed / observedTotal) : "-",
                    i < ratio.ExpectedShares.Count ? Percent(ratio.ExpectedShares[i]) : "-",
                ]),
            ]);
    }

    private static Section GuardrailSection(ExperimentReport report) => new(
        "GUARDRAILS (a breach stops the experiment)",
        ["GUARDRAIL", "ARM", "VALUE", "THRESHOLD", "STATUS"],
        [
            .. report.Guardrails.Select(g => (IReadOnlyList<string>)
            [
                g.Guardrail,
                g.Arm,
                g.Value is { } value ? Number(value, "0.####") : "- (no data)",
                $"≤ {Number(g.Threshold, "0.####")}",
                g.Breached ? "BREACHED" : "ok",
            ]),
        ]);

    private static List<string> NotesOf(ExperimentReport report)
    {
        var ratio = report.SampleRatio;
        var notes = new List<string>
        {
            ratio.Alarm
                ? $"sample ratio: MISMATCH (chi-square {Number(ratio.ChiSquare, "0.###")}, p {PValue(ratio.PValue)}, below the alarm level 0.001)"
                : $"sample ratio: no mismatch (chi-square {Number(ratio.ChiSquare, "0.###")}, p {PValue(ratio.PValue)}, not below the alarm level 0.001)",
        };
        if (report.Shadow is { } shadow)
        {
            var arms = report.Experiment.Arms;
            var (control, candidate) = arms.Count >= 2 ? (arms[0].Name, arms[1].Name) : ("control", "candidate");
            var level = Number((1 - report.Experiment.Alpha) * 100, "0.##");
            notes.Add($"shadow agreement: {Count(shadow.Agreements)} of {Count(shadow.Compared)} events scored by both arms got the same prediction ({Percent(shadow.Agreement)})");
            notes.Add($"shadow paired difference ({candidate} − {control}, per labelled event): mean {Signed(shadow.MeanDifference)}, {level}% interval [{Signed(shadow.Lower)}, {Signed(shadow.Upper)}] over {Count(shadow.Paired)} paired events");
        }

        var charts = report.History.Select(h => h.Metric).Distinct(StringComparer.Ordinal).Count();
        notes.Add($"history: {report.History.Count} estimate(s) over {report.Looks} look(s) for {charts} metric(s); --chart-dir writes a PNG per metric");
        return notes;
    }

    private static List<string> AlarmsOf(ExperimentReport report)
    {
        var alarms = new List<string>();
        var ratio = report.SampleRatio;
        if (ratio.Alarm)
        {
            alarms.Add($"sample ratio mismatch: units did not split as configured (chi-square {Number(ratio.ChiSquare, "0.###")}, p {PValue(ratio.PValue)}, below 0.001); find out why before trusting any comparison");
        }

        alarms.AddRange(report.Guardrails.Where(g => g.Breached).Select(g =>
            $"guardrail {g.Guardrail} breached on arm {g.Arm}: {(g.Value is { } v ? Number(v, "0.####") : "-")} > {Number(g.Threshold, "0.####")}"));
        return alarms;
    }

    private static string Verdict(MetricComparison c, bool lowerIsBetter)
    {
        if (!c.Significant)
        {
            return $"no: the {Number(c.Level * 100, "0.##")}% interval includes 0";
        }

        var better = lowerIsBetter ? c.AbsoluteDifference < 0 : c.AbsoluteDifference > 0;
        return better ? "yes: arm better" : "yes: arm worse";
    }

    private static string Assignment(ExperimentInfo experiment)
    {
        var unit = experiment.Unit switch
        {
            ExperimentUnits.Device => "by device",
            ExperimentUnits.Group => $"by device group (devices sharing a value of tag '{experiment.GroupTag}'; analysed per group)",
            ExperimentUnits.Event => $"by event (value of field '{experiment.KeyField}')",
            _ => $"by {experiment.Unit}",
        };
        var mode = experiment.Mode == ExperimentModes.Shadow
            ? "shadow: every arm scores every event, only the control's prediction is published"
            : "split: each unit is scored by its arm only";
        return $"{unit}; {mode}; salt {experiment.Salt}";
    }

    public static string MetricDescription(ExperimentMetric metric)
    {
        ArgumentNullException.ThrowIfNull(metric);
        return metric.Kind switch
        {
            ExperimentMetricKinds.Accuracy => "accuracy from labelled feedback (higher is better)",
            ExperimentMetricKinds.LogLoss => "log-loss from labelled feedback (lower is better)",
            ExperimentMetricKinds.Auc => "AUC from labelled feedback (higher is better)",
            ExperimentMetricKinds.Mae => "mean absolute error from labelled feedback (lower is better)",
            ExperimentMetricKinds.OutcomeRate => $"rate of {metric.Outcome} among labelled predictions",
            _ => metric.Kind,
        };
    }

    private static string MetricHeader(ExperimentMetric metric) =>
        metric.Kind == ExperimentMetricKinds.OutcomeRate ? $"{metric.Outcome} RATE".ToUpperInvariant() : metric.Kind.ToUpperInvariant();

    private static string Guardrails(ExperimentGuardrails guardrails)
    {
        var parts = new List<string>();
        if (guardrails.MaxP99LatencyMs is { } p99)
        {
            parts.Add($"p99 latency ≤ {Number(p99, "0.##")} ms");
        }

        if (guardrails.MaxErrorRate is { } errors)
        {
            parts.Add($"error rate ≤ {Number(errors, "0.####")}");
        }

        if (guardrails.MaxDriftPsi is { } psi)
        {
            parts.Add($"drift PSI ≤ {Number(psi, "0.###")}");
        }

        return parts.Count == 0 ? "none" : string.Join(", ", parts) + " on every arm";
    }

    /// <summary>What a unit of assignment is called in counts: devices, groups or events.</summary>
    public static string UnitNoun(ExperimentInfo experiment)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        return experiment.Unit switch
        {
            ExperimentUnits.Device => "devices",
            ExperimentUnits.Group => experiment.GroupTag is { } tag ? $"groups by {tag}" : "groups",
            ExperimentUnits.Event => "events",
            _ => experiment.Unit,
        };
    }

    public static string TestName(string test) => test switch
    {
        "welch-t" => "Welch's t (welch-t)",
        "two-proportion-z" => "two-proportion z (two-proportion-z)",
        "delta-method" => "delta method for a ratio (delta-method)",
        "hanley-mcneil" => "Hanley–McNeil for AUC (hanley-mcneil)",
        _ => test,
    };

    public static string ModelName(ModelReference model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return $"{model.Name}:{model.Version}";
    }

    private static string Count(long value) => value.ToString("#,0", CultureInfo.InvariantCulture);

    private static string Value(double value) => Number(value, "0.0000");

    private static string Signed(double value) => Number(value, "+0.0000;-0.0000;0.0000");

    private static string SignedPercent(double value) => Number(value * 100, "+0.00;-0.00;0.00") + "%";

    private static string Percent(double share) => Number(share * 100, "0.0") + "%";

    private static string PValue(double p) => p < 0.0001 ? "< 0.0001" : Number(p, "0.0000");

    private static string Number(double value, string format) => double.IsFinite(value) ? value.ToString(format, CultureInfo.InvariantCulture) : value.ToString(CultureInfo.InvariantCulture);
}
