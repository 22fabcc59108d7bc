using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EdgePlatform.Cli.Output;
using EdgePlatform.Contracts;
using Spectre.Console;

namespace EdgePlatform.Cli.Commands;

/// <summary><c>edgectl experiment</c>: A/B experiments between model versions, their reports and charts, and promotion of the winner.</summary>
public static class ExperimentCommands
{
    public static Command Create()
    {
        return new Command("experiment", "A/B experiments between model versions across devices, groups or events, with anytime-valid statistics")
        {
            CreateCommand(),
            ListCommand(),
            StatusCommand(),
            ReportCommand(),
            StopCommand(),
            PromoteCommand(),
            PowerCommand(),
        };
    }

    /// <summary>The options of <c>experiment create</c>, declared once for the command and for <see cref="BuildRequest"/>.</summary>
    public sealed class CreateOptions
    {
        public Argument<string?> Name { get; } = new("name") { Description = "Experiment name (with --file, overrides the file's)", Arity = ArgumentArity.ZeroOrOne };

        public Option<string[]> Arms { get; } = new("--arm") { Description = "Arm as NAME=MODEL:VERSION[:WEIGHT] or NAME=MODEL@ALIAS[:WEIGHT]; repeat for each arm, the control first (weights default to equal)" };

        public Option<string?> Selector { get; } = new("--selector", "-l") { Description = "Devices taking part, by tags, e.g. \"site in (berlin,munich)\"" };

        public Option<string?> Unit { get; } = new("--unit") { Description = "What is assigned to an arm: device, group (devices sharing a --group-tag value) or event (by --key-field)" };

        public Option<string?> GroupTag { get; } = new("--group-tag") { Description = "With --unit group: the tag whose value names a device's group, e.g. site" };

        public Option<string?> KeyField { get; } = new("--key-field") { Description = "The event field whose value assigns an event to an arm (--unit event) and pairs shadow predictions (default: id)" };

        public Option<bool> Shadow { get; } = new("--shadow") { Description = "Every arm scores every event; only the control's prediction is published" };

        public Option<string?> Metric { get; } = new("--metric") { Description = $"Primary metric from labelled feedback: {string.Join(", ", ExperimentArguments.MetricKinds)}" };

        public Option<string?> Outcome { get; } = new("--outcome") { Description = $"With --metric outcome-rate: the outcome whose rate is measured ({string.Join(", ", ExperimentOutcomes.All)})" };

        public Option<double?> MaxP99Ms { get; } = new("--max-p99-ms") { Description = "Guardrail: stop when an arm's p99 latency exceeds this many milliseconds" };

        public Option<double?> MaxErrorRate { get; } = new("--max-error-rate") { Description = "Guardrail: stop when an arm's errors per event exceed this fraction" };

        public Option<double?> MaxDriftPsi { get; } = new("--max-drift-psi") { Description = "Guardrail: stop when an arm's largest feature drift (PSI) exceeds this" };

        public Option<int?> Priority { get; } = new("--priority") { Description = "Where experiments and rollouts select the same device, the highest priority decides its model (default 0)" };

        public Option<string?> EndsAt { get; } = new("--ends-at") { Description = "When the experiment stops, ISO 8601 (e.g. 2026-12-24T18:00:00Z)" };

        public Option<string?> Duration { get; } = new("--duration") { Description = "How long it runs from now: 90m, 12h, 7d, 2w (instead of --ends-at)" };

        public Option<double?> Alpha { get; } = new("--alpha") { Description = "Significance level of the two-sided tests (default 0.05)" };

        public Option<double?> SequentialTuning { get; } = new("--sequential-tuning") { Description = "Sample size per arm at which the confidence sequence is tightest (default: the server's)" };

        public Option<string?> File { get; } = new("--file", "-f") { Description = "A JSON CreateExperimentRequest holding the whole spec, instead of the options above" };

        /// <summary>The options that describe the experiment, which <c>--file</c> replaces.</summary>
        public IEnumerable<Option> SpecOptions =>
            [Arms, Selector, Unit, GroupTag, KeyField, Shadow, Metric, Outcome, MaxP99Ms, MaxErrorRate, MaxDriftPsi, Priority, EndsAt, Duration, Alpha, SequentialTuning];

        public Command Command(string name = "create")
        {
            var command = new Command(name, "Start an experiment: arms, population, unit of assignment, metric, guardrails and end date") { Name, File };
            foreach (var option in SpecOptions)
            {
                command.Options.Add(option);
            }

            return command;
        }
    }

    /// <summary>
    /// The request the <c>create</c> command's words describe, checked here so a mistake is named
    /// before anything is sent; <paramref name="now"/> anchors <c>--duration</c>.
    /// </summary>
    public static CreateExperimentRequest BuildRequest(ParseResult parse, CreateOptions options, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(parse);
        ArgumentNullException.ThrowIfNull(options);
        if (parse.Errors.Count > 0)
        {
            throw new CliException(string.Join("; ", parse.Errors.Select(e => e.Message)));
        }

        var name = parse.GetValue(options.Name);
        if (parse.GetValue(options.File) is { } file)
        {
            var given = options.SpecOptions.Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();
            if (given.Count > 0)
            {
                throw new CliException($"--file holds the whole spec; leave out {string.Join(", ", given)} or the file");
            }

            var fromFile = ReadSpec(file);
            return name is null ? fromFile : fromFile with { Name = name };
        }

        if (name is null)
        {
            throw new CliException("experiment create needs a NAME (or --file with a spec)");
        }

        var selector = parse.GetValue(options.Selector) ?? throw new CliException("--selector is required: the devices taking part, e.g. -l \"site=berlin\"");
        var unitText = parse.GetValue(options.Unit) ?? throw new CliException($"--unit is required: one of {string.Join(", ", ExperimentArguments.Units)}");
        var metricText = parse.GetValue(options.Metric) ?? throw new CliException($"--metric is required: one of {string.Join(", ", ExperimentArguments.MetricKinds)}");
        var arms = ExperimentArguments.ParseArms(parse.GetValue(options.Arms) ?? []);
        var unit = ExperimentArguments.ParseUnit(unitText);
        var groupTag = parse.GetValue(options.GroupTag);
        if (unit == ExperimentUnits.Group && string.IsNullOrWhiteSpace(groupTag))
        {
            throw new CliException("--unit group needs --group-tag, the tag whose value names a device's group (e.g. --group-tag site)");
        }

        if (unit != ExperimentUnits.Group && groupTag is not null)
        {
            throw new CliException($"--group-tag applies only to --unit group, not to --unit {unit}");
        }

        var priority = parse.GetValue(options.Priority);
        if (priority is < 0)
        {
            throw new CliException($"--priority: {priority} must be 0 or more");
        }

        var tuning = parse.GetValue(options.SequentialTuning);
        if (tuning is { } t && !(t > 0 && double.IsFinite(t)))
        {
            throw new CliException($"--sequential-tuning: {t.ToString(CultureInfo.InvariantCulture)} must be a sample size above 0, e.g. 1000");
        }

        return new CreateExperimentRequest(
            name,
            arms,
            selector,
            unit,
            groupTag,
            parse.GetValue(options.KeyField),
            parse.GetValue(options.Shadow) ? ExperimentModes.Shadow : null,
            ExperimentArguments.ParseMetric(metricText, parse.GetValue(options.Outcome)),
            ExperimentArguments.ParseGuardrails(parse.GetValue(options.MaxP99Ms), parse.GetValue(options.MaxErrorRate), parse.GetValue(options.MaxDriftPsi)),
            priority,
            ExperimentArguments.ParseEnd(parse.GetValue(options.EndsAt), parse.GetValue(options.Duration), now),
            ExperimentArguments.CheckAlpha(parse.GetValue(options.Alpha)),
            tuning);
    }

    /// <summary>Parses <c>create</c>'s words (without <c>experiment create</c>) into the request, as the command would send it.</summary>
    public static CreateExperimentRequest ParseCreate(IReadOnlyList<string> args, DateTimeOffset now)
    {
        var options = new CreateOptions();
        var root = new RootCommand { options.Command() };
        return BuildRequest(root.Parse(["create", .. args]), options, now);
    }

    private static CreateExperimentRequest ReadSpec(string path)
    {
        try
        {
            return JsonSerializer.Deserialize(System.IO.File.ReadAllText(path), ContractsJsonContext.Default.CreateExperimentRequest)
                ?? throw new CliException($"--file '{path}': the file holds no experiment spec");
        }
        catch (JsonException ex)
        {
            throw new CliException($"--file '{path}': not a CreateExperimentRequest in JSON: {ex.Message}", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"--file '{path}': {ex.Message}", ex);
        }
    }

    private static Command CreateCommand()
    {
        var options = new CreateOptions();
        var create = options.Command();
        create.SetAction(async (parse, ct) =>
        {
            var request = BuildRequest(parse, options, TimeProvider.System.GetUtcNow());
            using var api = parse.CreateApi();
            return Show(await api.CreateExperimentAsync(request, ct).ConfigureAwait(false), parse.Format());
        });
        return create;
    }

    public static IReadOnlyList<Column<ExperimentInfo>> ListColumns { get; } =
    [
        new("EXPERIMENT", e => e.Id),
        new("NAME", e => e.Name),
        new("STATE", e => e.State),
        new("UNIT", e => e.Unit == ExperimentUnits.Group && e.GroupTag is { } tag ? $"group:{tag}" : e.Unit + (e.Mode == ExperimentModes.Shadow ? " (shadow)" : string.Empty)),
        new("ARMS", e => string.Join(",", e.Arms.Select(a => a.Name))) { WideValue = e => string.Join(", ", e.Arms.Select(a => $"{a.Name}={ExperimentReportView.ModelName(a.Model)}")) },
        new("METRIC", e => e.Metric.Outcome is { } outcome ? $"{e.Metric.Kind}:{outcome}" : e.Metric.Kind),
        new("SELECTOR", e => e.Selector) { WideOnly = true },
        new("PRIORITY", e => e.Priority.ToString(CultureInfo.InvariantCulture)) { WideOnly = true },
        new("CREATED", e => Render.Age(e.CreatedAt)) { WideValue = e => Render.Time(e.CreatedAt) },
        new("ENDS", e => Render.Time(e.EndsAt)) { WideOnly = true },
        new("ROLLOUT", e => e.PromotedRollout ?? "-") { WideOnly = true },
        new("REASON", e => e.Reason ?? "-") { WideOnly = true },
    ];

    private static Command ListCommand()
    {
        var list = new Command("list", "List experiments");
        list.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var experiments = await api.ListExperimentsAsync(ct).ConfigureAwait(false);
            return Render.List(parse, experiments, ContractsJsonContext.Default.IReadOnlyListExperimentInfo, ListColumns);
        });
        return list;
    }

    private static Command StatusCommand()
    {
        var id = new Argument<string>("id") { Description = "Experiment id" };
        var status = new Command("status", "Show an experiment: arms, population, unit, metric, guardrails, state") { id };
        status.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            return Show(await api.GetExperimentAsync(parse.GetValue(id)!, ct).ConfigureAwait(false), parse.Format());
        });
        return status;
    }

    private static Command StopCommand()
    {
        var id = new Argument<string>("id") { Description = "Experiment id" };
        var stop = new Command("stop", "Stop an experiment: every device goes back to the control's model; the report stays") { id };
        stop.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            return Show(await api.StopExperimentAsync(parse.GetValue(id)!, ct).ConfigureAwait(false), parse.Format());
        });
        return stop;
    }

    private static Command ReportCommand()
    {
        var id = new Argument<string>("id") { Description = "Experiment id" };
        var chartDir = new Option<string?>("--chart-dir")
        {
            Description = "Write a PNG chart per metric of each arm's difference and interval over time into this directory (no value: the current directory)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var json = new Option<bool>("--json") { Description = "The report as the API's JSON document (same as -o json)" };
        var report = new Command("report", "The analysis: n per arm, each comparison with its test, interval and p-value, sample ratio, guardrails, shadow agreement") { id, chartDir, json };
        report.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var result = await api.GetExperimentReportAsync(parse.GetValue(id)!, ct).ConfigureAwait(false);
            var format = parse.GetValue(json) ? OutputFormat.Json : parse.Format();
            if (format.IsDocument())
            {
                Render.Document(format, result, ContractsJsonContext.Default.ExperimentReport);
            }
            else
            {
                Write(new ExperimentReportView(result));
            }

            if (parse.GetResult(chartDir) is { } given)
            {
                var directory = given.Tokens.Count > 0 ? given.Tokens[^1].Value : Directory.GetCurrentDirectory();
                var paths = ExperimentChart.Write(result, directory);

                // A document on stdout stays one document: the paths go to stderr then.
                var to = format.IsDocument() ? Console.Error : Console.Out;
                if (paths.Count == 0)
                {
                    to.WriteLine("chart: none written, the report has no comparison yet");
                }

                foreach (var path in paths)
                {
                    to.WriteLine($"chart: {path}");
                }
            }

            return 0;
        });
        return report;
    }

    private static Command PromoteCommand()
    {
        var id = new Argument<string>("id") { Description = "Experiment id" };
        var arm = new Option<string?>("--arm") { Description = "The arm whose model to roll out (default: the best arm, when it is significantly better than the control)" };
        var stages = new Option<string?>("--stages") { Description = "Cumulative percentages of the experiment's devices, e.g. 10,50,100 (default: the server's)" };
        var bake = new Option<string?>("--bake") { Description = "How long each stage bakes before the next opens, e.g. 5m (with --stages)" };
        var promote = new Command("promote", "Stop the experiment and start a staged rollout of the winning arm's model to its devices; prints the rollout") { id, arm, stages, bake };
        promote.SetAction(async (parse, ct) =>
        {
            var request = new PromoteExperimentRequest(parse.GetValue(arm), ExperimentArguments.ParseStages(parse.GetValue(stages), parse.GetValue(bake)));
            using var api = parse.CreateApi();
            var rollout = await api.PromoteExperimentAsync(parse.GetValue(id)!, request, ct).ConfigureAwait(false);
            return RolloutCommands.Show(rollout, parse.Format());
        });
        return promote;
    }

    private static Command PowerCommand()
    {
        var metric = new Option<string>("--metric") { Description = $"The metric: {string.Join(", ", ExperimentArguments.MetricKinds)}", Required = true };
        var baseline = new Option<double>("--baseline") { Description = "The control's expected value, e.g. 0.80 accuracy", Required = true };
        var mde = new Option<double>("--mde") { Description = "Smallest absolute difference worth detecting, e.g. 0.02", Required = true };
        var sd = new Option<double?>("--sd") { Description = "Standard deviation of the per-unit metric (needed for log-loss and mae; rates derive it from the baseline)" };
        var alpha = new Option<double?>("--alpha") { Description = "Significance level, two-sided (default 0.05)" };
        var power = new Option<double?>("--power") { Description = "Chance of detecting a true difference of --mde (default 0.8)" };
        var arms = new Option<int?>("--arms") { Description = "Arms including the control (default 2; more are corrected for several comparisons)" };
        var command = new Command("power", "Units per arm needed to detect a difference, before starting an experiment") { metric, baseline, mde, sd, alpha, power, arms };
        command.SetAction(async (parse, ct) =>
        {
            var request = ExperimentArguments.ParsePower(
                parse.GetValue(metric)!, parse.GetValue(baseline), parse.GetValue(mde), parse.GetValue(sd), parse.GetValue(alpha), parse.GetValue(power), parse.GetValue(arms));
            using var api = parse.CreateApi();
            var result = await api.ExperimentPowerAsync(request, ct).ConfigureAwait(false);
            var format = parse.Format();
            if (format.IsDocument())
            {
                Render.Document(format, result, ContractsJsonContext.Default.PowerResult);
            }
            else
            {
                Console.Out.Write(DescribePower(result));
            }

            return 0;
        });
        return command;
    }

    /// <summary>The power calculator's answer, each number with what it is.</summary>
    public static string DescribePower(PowerResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        string N(double v, string f = "0.####") => v.ToString(f, CultureInfo.InvariantCulture);
        var relative = result.BaselineValue != 0 ? $" ({N(result.MinimumDetectableEffect / result.BaselineValue * 100, "0.##")}% of the baseline)" : string.Empty;
        var fields = new List<(string, string)>
        {
            ("metric", $"{result.Metric}, baseline {N(result.BaselineValue)}, standard deviation per unit {N(result.StandardDeviation)}"),
            ("detects", $"an absolute difference of {N(result.MinimumDetectableEffect)}{relative}"),
            ("with", $"α {N(result.Alpha)} (two-sided), power {N(result.Power)}, {result.Arms} arms"),
            ("units per arm", result.UnitsPerArm.ToString("#,0", CultureInfo.InvariantCulture)),
            ("units in all", result.UnitsInAll.ToString("#,0", CultureInfo.InvariantCulture)),
            ("method", result.Method),
        };
        var width = fields.Max(f => f.Item1.Length) + 1;
        return string.Concat(fields.Select(f => $"{(f.Item1 + ":").PadRight(width)} {f.Item2}\n"));
    }

    private static int Show(ExperimentInfo experiment, OutputFormat format)
    {
        if (format.IsDocument())
        {
            Render.Document(format, experiment, ContractsJsonContext.Default.ExperimentInfo);
            return 0;
        }

        var fields = ExperimentReportView.Describe(experiment);
        var width = fields.Max(f => f.Name.Length) + 1;
        Console.Out.Write(string.Concat(fields.Select(f => $"{(f.Name + ":").PadRight(width)} {f.Value}\n")));
        return 0;
    }

    /// <summary>A terminal gets the drawn tables; a pipe or a file the same facts as plain lines and columns.</summary>
    private static void Write(ExperimentReportView view)
    {
        if (Console.IsOutputRedirected)
        {
            Console.Out.Write(view.ToPlainText());
        }
        else
        {
            AnsiConsole.Write(view.ToRenderable());
        }
    }
}
