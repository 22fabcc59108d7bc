using System.CommandLine;
using System.Globalization;
using EdgePlatform.Cli.Output;
using EdgePlatform.Contracts;
using Spectre.Console;

namespace EdgePlatform.Cli.Commands;

/// <summary><c>edgectl rollout</c>: staged rollouts with health gates, and a live view of their progress.</summary>
public static class RolloutCommands
{
    private const int DefaultFailedShown = 10;

    public static Command Create()
    {
        var rollout = new Command("rollout", "Staged rollouts of a model version to a device group, with health gates and rollback")
        {
            CreateCommand(),
            ListCommand(),
            StatusCommand(),
            DevicesCommand(),
            ChangeCommand("pause", "Stop opening stages; devices keep what they have"),
            ChangeCommand("resume", "Continue a paused rollout; the current stage bakes again in full"),
            ChangeCommand("abort", "Stop for good; devices keep what they have (rollback restores them)"),
            ChangeCommand("rollback", "Point every device the rollout touched back at its previous model"),
        };
        return rollout;
    }

    /// <summary>
    /// Parses a stage such as <c>10%:10m</c> (percent of the group, bake 10 minutes) or
    /// <c>50:1h</c> (50 devices, bake an hour); stages are cumulative.
    /// </summary>
    public static RolloutStage ParseStage(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split(':', 2);
        var size = parts[0].Trim();
        var bake = parts.Length > 1 ? ParseDuration(parts[1].Trim(), $"--stage '{text}'") : 0;
        if (size.EndsWith('%'))
        {
            return double.TryParse(size[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var percent)
                ? new RolloutStage(percent, null, bake)
                : throw new CliException($"--stage '{text}': '{size}' is not a percentage such as 10%");
        }

        return int.TryParse(size, NumberStyles.None, CultureInfo.InvariantCulture, out var count)
            ? new RolloutStage(null, count, bake)
            : throw new CliException($"--stage '{text}': '{size}' is neither a percentage (10%) nor a device count (50)");
    }

    /// <summary>Seconds from <c>90</c>, <c>90s</c>, <c>15m</c> or <c>2h</c>.</summary>
    public static int ParseDuration(string text, string what)
    {
        ArgumentNullException.ThrowIfNull(text);
        var (number, factor) = text switch
        {
            _ when text.EndsWith('h') => (text[..^1], 3600),
            _ when text.EndsWith('m') => (text[..^1], 60),
            _ when text.EndsWith('s') => (text[..^1], 1),
            _ => (text, 1),
        };
        return int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value <= int.MaxValue / factor
            ? value * factor
            : throw new CliException($"{what}: '{text}' is not a duration such as 90s, 15m or 2h");
    }

    /// <summary>
    /// The exponential rate from the <c>--rate-*</c> options: none when none is given; otherwise base,
    /// factor and maximum together, with exactly one increase trigger.
    /// </summary>
    public static RolloutRate? ParseRate(int? baseRate, double? factor, int? maxRate, int? afterNotified, int? afterSucceeded)
    {
        if (baseRate is null && factor is null && maxRate is null && afterNotified is null && afterSucceeded is null)
        {
            return null;
        }

        var missing = new[] { ("--rate-base", baseRate is null), ("--rate-factor", factor is null), ("--rate-max", maxRate is null) }
            .Where(o => o.Item2)
            .Select(o => o.Item1)
            .ToList();
        if (missing.Count > 0)
        {
            throw new CliException($"a rate needs --rate-base, --rate-factor and --rate-max together; missing {string.Join(", ", missing)}");
        }

        if ((afterNotified is null) == (afterSucceeded is null))
        {
            throw new CliException("a rate needs exactly one of --rate-after-notified N (devices sent the version) or --rate-after-succeeded N (devices that reported it active)");
        }

        return new RolloutRate(baseRate, factor, maxRate, afterNotified, afterSucceeded);
    }

    /// <summary>The rate as the status view shows it, e.g. <c>20/min now (base 10, x2 every 50 sent, max 100), 12 sent this minute</c>.</summary>
    public static string DescribeRate(RolloutRate? rate, RolloutRateProgress? progress)
    {
        if (rate is null)
        {
            return "none: an open stage's devices are sent the version at once";
        }

        var trigger = rate.IncreaseAfterNotified is { } notified ? $"every {notified} sent" : $"every {rate.IncreaseAfterSucceeded} active";
        var schedule = $"base {rate.BaseRatePerMinute}/min, x{Render.Number(rate.IncrementFactor ?? 1)} {trigger}, max {rate.MaxRatePerMinute}/min";
        return progress is null
            ? $"{schedule}; nothing sent yet"
            : $"{Render.Number(Math.Floor(progress.RatePerMinute), "0")}/min now ({schedule}); {progress.SentInWindow} sent this minute, {progress.Notified} in all";
    }

    private static Command CreateCommand()
    {
        var model = new Argument<string>("model") { Description = "Model as name (newest version), name:version or name@alias (pinned to the alias's version now)" };
        var selector = new Option<string>("--selector", "-l") { Description = "Device group by tags, e.g. \"site=berlin and hw in (pi4,pi5)\"", Required = true };
        var stages = new Option<string[]>("--stage") { Description = "Cumulative stage as PERCENT%:BAKE or COUNT:BAKE, e.g. 10%:15m (repeatable, in order)", Required = true };
        var priority = new Option<int?>("--priority") { Description = "Where rollouts select the same device, the highest priority wins (default 0)" };
        var maxFailure = new Option<double?>("--max-failure-percent") { Description = "Abort when more than this % of finished devices failed" };
        var minDevices = new Option<int?>("--min-devices") { Description = "...but only once this many devices have finished (default 1)" };
        var maxErrorRate = new Option<double?>("--max-error-rate") { Description = "Abort at the end of a bake when errors per event on the new version exceed this fraction" };
        var minEvents = new Option<long?>("--min-events") { Description = "Hold a stage until the new version has scored this many events" };
        var maxP99 = new Option<double?>("--max-p99-regression") { Description = "Abort when p99 latency exceeds the previous version's by this factor (e.g. 1.2)" };
        var qualityMetric = new Option<string?>("--quality-metric") { Description = "Quality gate on labelled feedback: 'accuracy' (classification) or 'mae' (regression), new version against the previous, judged at every tick" };
        var qualityMargin = new Option<double?>("--quality-margin") { Description = "Quality gate: how much worse the new version may be, absolute (e.g. 0.02 = 2 accuracy points)" };
        var qualityAlpha = new Option<double?>("--quality-alpha") { Description = "Quality gate: error rate of its confidence sequence (default 0.05, a 95% sequence)" };
        var attestation = new Option<bool>("--require-attestation") { Description = "Only devices with a verified attestation take part" };
        var timeout = new Option<string?>("--device-timeout") { Description = "An online device that has not reported the version active by then fails (default 30m)" };
        var rateBase = new Option<int?>("--rate-base") { Description = "Exponential rate: devices sent the version per minute at first" };
        var rateFactor = new Option<double?>("--rate-factor") { Description = "Exponential rate: factor the rate grows by at each increase (1.1 to 5)" };
        var rateMax = new Option<int?>("--rate-max") { Description = "Exponential rate: most devices per minute" };
        var rateAfterNotified = new Option<int?>("--rate-after-notified") { Description = "Exponential rate: increase after every N more devices were sent the version" };
        var rateAfterSucceeded = new Option<int?>("--rate-after-succeeded") { Description = "Exponential rate: increase after every N more devices reported it active" };
        var runtime = FleetCommands.RuntimeOption();
        var watch = new Option<bool>("--watch", "-w") { Description = "Follow the rollout's progress until it ends" };
        var create = new Command("create", "Start a staged rollout")
        {
            model, selector, stages, priority, maxFailure, minDevices, maxErrorRate, minEvents, maxP99, qualityMetric, qualityMargin, qualityAlpha, attestation, timeout,
            rateBase, rateFactor, rateMax, rateAfterNotified, rateAfterSucceeded, runtime, watch,
        };
        create.SetAction(async (parse, ct) =>
        {
            var request = new CreateRolloutRequest(
                parse.GetValue(model),
                parse.GetValue(selector),
                parse.GetValue(priority),
                [.. (parse.GetValue(stages) ?? []).Select(ParseStage)],
                new RolloutGates(
                    parse.GetValue(maxFailure),
                    parse.GetValue(minDevices),
                    parse.GetValue(maxErrorRate),
                    parse.GetValue(minEvents),
                    parse.GetValue(maxP99),
                    parse.GetValue(attestation),
                    parse.GetValue(qualityMetric),
                    parse.GetValue(qualityMargin),
                    parse.GetValue(qualityAlpha)),
                parse.GetValue(timeout) is { } text ? ParseDuration(text, "--device-timeout") : null,
                ParseRate(parse.GetValue(rateBase), parse.GetValue(rateFactor), parse.GetValue(rateMax), parse.GetValue(rateAfterNotified), parse.GetValue(rateAfterSucceeded)),
                parse.GetValue(runtime));
            using var api = parse.CreateApi();
            var rollout = await api.CreateRolloutAsync(request, ct).ConfigureAwait(false);
            return parse.GetValue(watch)
                ? await WatchAsync(api, rollout.Id, parse.Format(), TimeSpan.FromSeconds(2), DefaultFailedShown, ct).ConfigureAwait(false)
                : Show(rollout, parse.Format());
        });
        return create;
    }

    private static Command ListCommand()
    {
        var list = new Command("list", "List rollouts");
        list.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var rollouts = await api.ListRolloutsAsync(ct).ConfigureAwait(false);
            return Render.List(parse, rollouts, ContractsJsonContext.Default.IReadOnlyListRolloutInfo, ListColumns);
        });
        return list;
    }

    public static IReadOnlyList<Column<RolloutInfo>> ListColumns { get; } =
    [
        new("ROLLOUT", r => r.Id),
        new("MODEL", r => $"{r.Model.Name}:{r.Model.Version}") { WideValue = ModelName },
        new("SELECTOR", r => r.Selector) { WideOnly = true },
        new("PRIORITY", r => r.Priority.ToString(CultureInfo.InvariantCulture)) { WideOnly = true },
        new("STATE", r => r.State),
        new("STAGE", r => $"{r.CurrentStage + 1}/{r.Stages.Count}"),
        new("ACTIVE", r => Count(r, RolloutDeviceStates.Active)) { WideOnly = true },
        new("FAILED", r => Count(r, RolloutDeviceStates.Failed)),
        new("UPDATED", r => Render.Time(r.UpdatedAt)) { WideOnly = true },
    ];

    /// <summary>A rollout's devices; with <c>--history</c> the reason column shows each device's last transitions.</summary>
    public static IReadOnlyList<Column<RolloutDevice>> DeviceColumns(bool history) =>
    [
        new("DEVICE", d => d.DeviceId),
        new("STAGE", d => (d.Stage + 1).ToString(CultureInfo.InvariantCulture)),
        new("STATE", d => d.State),
        new("SINCE", d => Render.Age(d.Since)) { WideValue = d => Render.Time(d.Since) },
        new("REASON", d => history && d.History is { Count: > 0 } steps
            ? string.Join(" → ", steps.Select(t => $"{t.State} {Render.Time(t.At)}" + (t.Reason is null ? string.Empty : $" ({t.Reason})")))
            : d.Reason ?? "-"),
    ];

    private static Command StatusCommand()
    {
        var id = new Argument<string>("id") { Description = "Rollout id" };
        var watch = new Option<bool>("--watch", "-w") { Description = "Follow the rollout's progress until it ends (Ctrl-C stops watching, not the rollout)" };
        var interval = new Option<string>("--interval") { Description = "How often --watch polls (default 2s)", DefaultValueFactory = _ => "2s" };
        var failed = new Option<int>("--failed") { Description = "How many failed devices to list with their reasons (default 10)", DefaultValueFactory = _ => DefaultFailedShown };
        var status = new Command("status", "Show a rollout's stages, device counts, gates, rate and its failed devices") { id, watch, interval, failed };
        status.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var shown = Math.Clamp(parse.GetValue(failed), 1, 1000);
            if (parse.GetValue(watch))
            {
                var every = TimeSpan.FromSeconds(Math.Max(1, ParseDuration(parse.GetValue(interval)!, "--interval")));
                return await WatchAsync(api, parse.GetValue(id)!, parse.Format(), every, shown, ct).ConfigureAwait(false);
            }

            var detail = await api.GetRolloutAsync(parse.GetValue(id)!, RolloutDeviceStates.Failed, shown, null, ct).ConfigureAwait(false);
            Write(parse.Format(), detail);
            return 0;
        });
        return status;
    }

    private static Command DevicesCommand()
    {
        var id = new Argument<string>("id") { Description = "Rollout id" };
        var state = new Option<string?>("--state") { Description = $"Only devices in this state ({string.Join(", ", RolloutDeviceStates.All)})" };
        var limit = new Option<int>("--limit") { Description = "Devices per page (default 100, at most 1000)", DefaultValueFactory = _ => 100 };
        var after = new Option<string?>("--after") { Description = "Start after this device id (the previous page's last)" };
        var history = new Option<bool>("--history") { Description = "Show each device's last transitions" };
        var devices = new Command("devices", "List a rollout's devices page by page, with state, reason and since when") { id, state, limit, after, history };
        devices.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var detail = await api.GetRolloutAsync(parse.GetValue(id)!, parse.GetValue(state), parse.GetValue(limit), parse.GetValue(after), ct).ConfigureAwait(false);
            var format = parse.Format();
            if (format.IsDocument())
            {
                Render.Document(format, detail, ContractsJsonContext.Default.RolloutDetail);
                return 0;
            }

            Render.Rows(format, DeviceColumns(parse.GetValue(history)), detail.Devices);
            if (detail.NextAfter is { } next)
            {
                Console.Out.WriteLine($"more: --after {next}");
            }

            return 0;
        });
        return devices;
    }

    private static Command ChangeCommand(string action, string description)
    {
        var id = new Argument<string>("id") { Description = "Rollout id" };
        var command = new Command(action, description) { id };
        command.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            return Show(await api.ChangeRolloutAsync(parse.GetValue(id)!, action, ct).ConfigureAwait(false), parse.Format());
        });
        return command;
    }

    /// <summary>A rollout as create and the operator commands print it (also the rollout an experiment's promotion started).</summary>
    public static int Show(RolloutInfo rollout, OutputFormat format)
    {
        if (format.IsDocument())
        {
            Render.Document(format, rollout, ContractsJsonContext.Default.RolloutInfo);
        }
        else if (Console.IsOutputRedirected)
        {
            Console.Out.Write(PlainView(rollout, []));
        }
        else
        {
            AnsiConsole.Write(View(rollout, []));
        }

        return 0;
    }

    /// <summary>
    /// The status view. A terminal gets the drawn view with its bars and colours; a pipe or a file gets
    /// the same facts as plain lines and columns, with no box drawing for grep or a narrow pager to trip on.
    /// </summary>
    private static void Write(OutputFormat format, RolloutDetail detail)
    {
        if (format.IsDocument())
        {
            Render.Document(format, detail, ContractsJsonContext.Default.RolloutDetail);
        }
        else if (Console.IsOutputRedirected)
        {
            Console.Out.Write(PlainView(detail.Rollout, Failures(detail)));
        }
        else
        {
            AnsiConsole.Write(View(detail));
        }
    }

    /// <summary>
    /// Polls until the rollout ends. As JSON, one document per change (JSON lines; YAML documents
    /// separated by <c>---</c>); into a pipe, the plain view per change; in a terminal, a live view
    /// redrawn in place. Each poll reads the counts and the first failed devices, never the whole
    /// device list.
    /// </summary>
    private static async Task<int> WatchAsync(ApiClient api, string id, OutputFormat format, TimeSpan every, int failedShown, CancellationToken ct)
    {
        var detail = await api.GetRolloutAsync(id, RolloutDeviceStates.Failed, failedShown, null, ct).ConfigureAwait(false);
        if (format.IsDocument() || Console.IsOutputRedirected)
        {
            var last = DateTimeOffset.MinValue;
            while (true)
            {
                if (detail.Rollout.UpdatedAt != last)
                {
                    if (format == OutputFormat.Yaml || (!format.IsDocument() && last != DateTimeOffset.MinValue))
                    {
                        Console.Out.WriteLine(format == OutputFormat.Yaml ? "---" : string.Empty);
                    }

                    Write(format, detail);
                    last = detail.Rollout.UpdatedAt;
                }

                if (Ended(detail.Rollout))
                {
                    return ExitCode(detail.Rollout);
                }

                await Task.Delay(every, ct).ConfigureAwait(false);
                detail = await api.GetRolloutAsync(id, RolloutDeviceStates.Failed, failedShown, null, ct).ConfigureAwait(false);
            }
        }

        await AnsiConsole.Live(View(detail)).StartAsync(async live =>
        {
            while (!Ended(detail.Rollout))
            {
                await Task.Delay(every, ct).ConfigureAwait(false);
                detail = await api.GetRolloutAsync(id, RolloutDeviceStates.Failed, failedShown, null, ct).ConfigureAwait(false);
                live.UpdateTarget(View(detail));
            }
        }).ConfigureAwait(false);
        return ExitCode(detail.Rollout);
    }

    private static bool Ended(RolloutInfo rollout) => rollout.State is not (RolloutStates.Running or RolloutStates.Paused);

    // A watch in a script tells success from a rollout that stopped itself.
    private static int ExitCode(RolloutInfo rollout) => rollout.State == RolloutStates.Completed ? 0 : 2;

    private static List<RolloutDevice> Failures(RolloutDetail detail) => [.. detail.Devices.Where(d => d.State == RolloutDeviceStates.Failed)];

    private static Rows View(RolloutDetail detail) => View(detail.Rollout, Failures(detail));

    private static string PlainView(RolloutInfo rollout, List<RolloutDevice> failures)
    {
        var fields = new List<(string Name, string Value)>
        {
            ("rollout", rollout.Id),
            ("model", $"{ModelName(rollout)} ({rollout.Model.ManifestDigest})"),
            ("selector", $"{rollout.Selector}   priority {rollout.Priority}"),
            ("state", rollout.State + (rollout.Reason is { } reason ? $" — {reason}" : string.Empty)),
            ("gates", Gates(rollout.Gates)),
            ("rate", DescribeRate(rollout.Rate, rollout.RateProgress)),
            ("devices", DescribeCounts(rollout.Counts)),
        };
        if (!Ended(rollout))
        {
            var bakeEnds = rollout.StageStartedAt.AddSeconds(rollout.Stages[rollout.CurrentStage].BakeSeconds);
            fields.Add(("stage", $"{rollout.CurrentStage + 1} of {rollout.Stages.Count}, bakes until {Render.Time(bakeEnds)}"));
        }

        var width = fields.Max(f => f.Name.Length) + 1;
        var text = new System.Text.StringBuilder();
        foreach (var (name, value) in fields)
        {
            text.Append($"{name}:".PadRight(width)).Append(' ').Append(value).Append('\n');
        }

        text.Append('\n').Append(TableWriter.Format(StageColumns, Stages(rollout), wide: true));
        if (failures.Count > 0)
        {
            text.Append('\n').Append(TableWriter.Format(FailureColumns(rollout, failures), failures, wide: true));
        }

        return text.ToString();
    }

    /// <summary>One stage's device counts, for both the drawn and the plain view.</summary>
    private sealed record StageRow(int Number, bool Current, RolloutStage Stage, int Total, int Active, int OnTheWay, int Failed, int Back)
    {
        public int Percent => Total == 0 ? 0 : 100 * Active / Total;
    }

    private static List<StageRow> Stages(RolloutInfo rollout) =>
    [
        .. rollout.Stages.Select((stage, i) =>
        {
            var counts = rollout.StageCounts is { } all && i < all.Count ? all[i] : new Dictionary<string, int>();
            return new StageRow(
                i + 1,
                i == rollout.CurrentStage && !Ended(rollout),
                stage,
                counts.Values.Sum(),
                counts.GetValueOrDefault(RolloutDeviceStates.Active),
                counts.Where(c => RolloutDeviceStates.IsInProgress(c.Key)).Sum(c => c.Value),
                counts.GetValueOrDefault(RolloutDeviceStates.Failed),
                counts.GetValueOrDefault(RolloutDeviceStates.RolledBack));
        }),
    ];

    private static readonly IReadOnlyList<Column<StageRow>> StageColumns =
    [
        new("STAGE", s => s.Current ? $"{s.Number} <" : s.Number.ToString(CultureInfo.InvariantCulture)),
        new("TARGET", s => Target(s.Stage)),
        new("BAKE", s => Duration(s.Stage.BakeSeconds)),
        new("DEVICES", s => s.Total.ToString(CultureInfo.InvariantCulture)),
        new("ACTIVE", s => s.Active.ToString(CultureInfo.InvariantCulture)),
        new("ON THE WAY", s => s.OnTheWay.ToString(CultureInfo.InvariantCulture)),
        new("FAILED", s => s.Failed.ToString(CultureInfo.InvariantCulture)),
        new("BACK", s => s.Back.ToString(CultureInfo.InvariantCulture)),
        new("PROGRESS", s => $"{s.Percent}%"),
    ];

    private static List<Column<RolloutDevice>> FailureColumns(RolloutInfo rollout, List<RolloutDevice> failures) =>
    [
        new(FailedTitle(rollout, failures), d => d.DeviceId),
        new("SINCE", d => Render.Time(d.Since)),
        new("REASON", d => d.Reason ?? "-"),
    ];

    private static string FailedTitle(RolloutInfo rollout, List<RolloutDevice> failures)
    {
        var failedCount = rollout.Counts?.GetValueOrDefault(RolloutDeviceStates.Failed) ?? failures.Count;
        return failedCount > failures.Count ? $"FAILED DEVICE (first {failures.Count} of {failedCount})" : "FAILED DEVICE";
    }

    private static string Target(RolloutStage stage) => stage.Percent is { } percent ? $"{Render.Number(percent)}%" : $"{stage.Count} devices";

    private static Rows View(RolloutInfo rollout, List<RolloutDevice> failures)
    {
        var header = new Grid().AddColumn().AddColumn();
        header.AddRow("[bold]rollout[/]", Markup.Escape(rollout.Id));
        header.AddRow("[bold]model[/]", Markup.Escape($"{ModelName(rollout)} ({Render.ShortDigest(rollout.Model.ManifestDigest)})"));
        header.AddRow("[bold]selector[/]", Markup.Escape($"{rollout.Selector}   priority {rollout.Priority}"));
        header.AddRow("[bold]state[/]", $"[{StateColor(rollout.State)}]{Markup.Escape(rollout.State)}[/]" + (rollout.Reason is { } reason ? $" — {Markup.Escape(reason)}" : string.Empty));
        header.AddRow("[bold]gates[/]", Markup.Escape(Gates(rollout.Gates)));
        header.AddRow("[bold]rate[/]", Markup.Escape(DescribeRate(rollout.Rate, rollout.RateProgress)));
        header.AddRow("[bold]devices[/]", Markup.Escape(DescribeCounts(rollout.Counts)));
        if (!Ended(rollout))
        {
            var bakeEnds = rollout.StageStartedAt.AddSeconds(rollout.Stages[rollout.CurrentStage].BakeSeconds);
            header.AddRow("[bold]stage[/]", Markup.Escape($"{rollout.CurrentStage + 1} of {rollout.Stages.Count}, bakes until {Render.Time(bakeEnds)}"));
        }

        var stages = new Table().Border(TableBorder.Rounded);
        foreach (var column in new[] { "STAGE", "TARGET", "BAKE", "DEVICES", "ACTIVE", "ON THE WAY", "FAILED", "BACK", "PROGRESS" })
        {
            stages.AddColumn(column);
        }

        foreach (var stage in Stages(rollout))
        {
            stages.AddRow(
                stage.Current ? $"[yellow]{stage.Number} ◀[/]" : stage.Number.ToString(CultureInfo.InvariantCulture),
                Target(stage.Stage),
                Duration(stage.Stage.BakeSeconds),
                stage.Total.ToString(CultureInfo.InvariantCulture),
                $"[green]{stage.Active}[/]",
                stage.OnTheWay.ToString(CultureInfo.InvariantCulture),
                $"[red]{stage.Failed}[/]",
                stage.Back.ToString(CultureInfo.InvariantCulture),
                Bar(stage.Percent));
        }

        var parts = new List<Spectre.Console.Rendering.IRenderable> { header, stages };
        if (failures.Count > 0)
        {
            var table = new Table().Border(TableBorder.Simple).AddColumn(FailedTitle(rollout, failures)).AddColumn("SINCE").AddColumn("REASON");
            foreach (var failure in failures)
            {
                table.AddRow(Markup.Escape(failure.DeviceId), Markup.Escape(Render.Time(failure.Since)), Markup.Escape(failure.Reason ?? "-"));
            }

            parts.Add(table);
        }

        return new Rows(parts);
    }

    /// <summary>Devices per state, in the order a device passes through them, e.g. <c>900 active, 40 downloading, 2 failed</c>.</summary>
    public static string DescribeCounts(IReadOnlyDictionary<string, int>? counts)
    {
        var parts = RolloutDeviceStates.All
            .Where(state => counts?.GetValueOrDefault(state) > 0)
            .Select(state => $"{counts![state]} {state}")
            .ToList();
        return parts.Count == 0 ? "none selected yet" : string.Join(", ", parts);
    }

    private static string ModelName(RolloutInfo rollout) =>
        rollout.ModelAlias is { } alias
            ? $"{rollout.Model.Name}:{rollout.Model.Version} (from {rollout.Model.Name}@{alias})"
            : $"{rollout.Model.Name}:{rollout.Model.Version}";

    private static string Bar(int percent)
    {
        const int Width = 10;
        var filled = percent * Width / 100;
        return $"[green]{new string('█', filled)}[/][grey]{new string('░', Width - filled)}[/] {percent,3}%";
    }

    private static string StateColor(string state) => state switch
    {
        RolloutStates.Completed => "green",
        RolloutStates.Running => "blue",
        RolloutStates.Paused => "yellow",
        _ => "red",
    };

    private static string Gates(RolloutGates gates)
    {
        var parts = new List<string>();
        if (gates.MaxFailurePercent is { } failure)
        {
            parts.Add($"failures ≤ {Render.Number(failure)}% after {gates.MinDevices ?? 1} device(s)");
        }

        if (gates.MaxErrorRate is { } rate)
        {
            parts.Add($"error rate ≤ {Render.Number(rate, "0.####")}");
        }

        if (gates.MinEventsScored is { } events)
        {
            parts.Add($"≥ {events} events scored");
        }

        if (gates.MaxP99Regression is { } p99)
        {
            parts.Add($"p99 ≤ {Render.Number(p99)}x previous");
        }

        if (gates.QualityMetric is { } metric)
        {
            var worse = metric == QualityGateMetrics.Accuracy ? "lower" : "higher";
            parts.Add($"{metric} at most {Render.Number(gates.QualityMargin ?? 0, "0.####")} {worse} than previous ({Render.Number(1 - (gates.QualityAlpha ?? QualityGateMetrics.DefaultAlpha), "0.##%")} sequence)");
        }

        if (gates.RequireAttestation)
        {
            parts.Add("attestation required");
        }

        return parts.Count == 0 ? "none" : string.Join(", ", parts);
    }

    private static string Duration(int seconds) => seconds switch
    {
        0 => "-",
        _ when seconds % 3600 == 0 => $"{seconds / 3600}h",
        _ when seconds % 60 == 0 => $"{seconds / 60}m",
        _ => $"{seconds}s",
    };

    private static string Count(RolloutInfo rollout, string state) =>
        (rollout.Counts?.GetValueOrDefault(state) ?? 0).ToString(CultureInfo.InvariantCulture);
}
