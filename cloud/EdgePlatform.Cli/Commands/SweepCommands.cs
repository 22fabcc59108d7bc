using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EdgePlatform.Cli.Output;
using EdgePlatform.Cli.Workers;
using EdgePlatform.Contracts;
using EdgePlatform.Training.Sweeps;
using Spectre.Console;

namespace EdgePlatform.Cli.Commands;

/// <summary><c>edgectl sweep</c>, <c>edgectl worker</c> and the trial process a worker starts (<c>edgectl trial run</c>).</summary>
public static class SweepCommands
{
    public static Command Worker()
    {
        var slots = new Option<int>("--slots") { Description = "Trials this worker runs at once (default 1)", DefaultValueFactory = _ => 1 };
        var cache = new Option<string>("--cache") { Description = "Directory of dataset snapshots, kept by digest (default: $XDG_CACHE_HOME/edgectl/datasets or ~/.cache/edgectl/datasets)" };
        var id = new Option<string>("--id") { Description = "Worker id (default: HOST-PID)" };
        var worker = new Command("worker", "Run sweep trials leased from the control plane (needs a token with the worker role)") { slots, cache, id };
        worker.SetAction(async (parse, ct) =>
        {
            if (parse.GetValue(slots) is < 1 or > 1024)
            {
                throw new CliException("--slots must be between 1 and 1024");
            }

            using var api = parse.CreateApi();
            var directory = parse.GetValue(cache) ?? Path.Combine(
                Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"),
                "edgectl", "datasets");
            var workerId = parse.GetValue(id) ?? $"{Environment.MachineName}-{Environment.ProcessId}";
            try
            {
                await new TrialWorker(api, workerId, parse.GetValue(slots), directory, Console.Error).RunAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Ctrl-C: running trials' leases expire and they run elsewhere.
            }

            return 0;
        });
        return worker;
    }

    public static Command Trial()
    {
        var trial = new Option<string>("--trial") { Description = "The leased trial (JSON)", Required = true };
        var data = new Option<string>("--data") { Description = "The dataset snapshot", Required = true };
        var output = new Option<string>("--out") { Description = "Where to write the result (JSON)", Required = true };
        var parent = new Option<int?>("--parent-pid") { Description = "Exit when this process (the worker) is gone" };
        var run = new Command("run", "Score one trial (started by 'edgectl worker')") { trial, data, output, parent };
        run.SetAction(async (parse, ct) =>
        {
            if (parse.GetValue(parent) is { } parentPid)
            {
                WatchParent(parentPid);
            }

            var started = Stopwatch.StartNew();
            TrialRunResult result;
            try
            {
                var lease = JsonSerializer.Deserialize(await File.ReadAllTextAsync(parse.GetValue(trial)!, ct).ConfigureAwait(false), ContractsJsonContext.Default.TrialLease)
                    ?? throw new CliException("--trial: the file holds no trial");
                var snapshot = File.OpenRead(parse.GetValue(data)!);
                EdgePlatform.Training.TabularDataset dataset;
                await using (snapshot.ConfigureAwait(false))
                {
                    dataset = SweepData.Load(snapshot, lease.Dataset, lease.Spec, ct);
                }

                var problem = SweepProblem.Resolve(lease.Spec, dataset);
                Console.Error.WriteLine($"trial {lease.Number}: {lease.Trainer} on {dataset.RowCount} rows, metric {problem.Metric}");
                var outcome = TrialRunner.Run(problem, new TrialSpec(lease.Number, lease.Trainer, lease.Parameters, lease.Fidelity, lease.Seed), dataset, ct);
                result = new TrialRunResult(outcome.Score, outcome.Metrics, outcome.Duration.TotalSeconds, null);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Console.Error.WriteLine(ex.ToString());
                result = new TrialRunResult(null, null, started.Elapsed.TotalSeconds, ex.Message);
            }

            await File.WriteAllTextAsync(parse.GetValue(output)!, JsonSerializer.Serialize(result, ContractsJsonContext.Default.TrialRunResult), ct).ConfigureAwait(false);
            return result.Error is null ? 0 : 1;
        });
        return new Command("trial", "Trials of a sweep") { run };
    }

    /// <summary>A trial whose worker was killed outright exits too, instead of training for nobody.</summary>
    private static void WatchParent(int parentPid)
    {
        var thread = new Thread(() =>
        {
            while (true)
            {
                Thread.Sleep(1000);
                try
                {
                    using var parent = Process.GetProcessById(parentPid);
                    if (parent.HasExited)
                    {
                        Environment.Exit(3);
                    }
                }
                catch (ArgumentException)
                {
                    Environment.Exit(3);
                }
            }
        })
        { IsBackground = true, Name = "parent-watch" };
        thread.Start();
    }

    public static Command Sweep()
    {
        return new Command("sweep", "Search trainers and settings over workers, track every trial, publish the winner")
        {
            Submit(), List(), Show(), Watch(), Stop(), Trials(), Compare(), Export(),
        };
    }

    private static Argument<string> IdArgument() => new("id") { Description = "Sweep id" };

    private static Command Submit()
    {
        var spec = new Option<string>("--spec") { Description = "Sweep spec (JSON), the same file 'edgectl train --local' runs", Required = true };
        var watch = new Option<bool>("--watch") { Description = "Watch it until it finishes" };
        var submit = new Command("submit", "Submit a sweep") { spec, watch };
        submit.SetAction(async (parse, ct) =>
        {
            var path = parse.GetValue(spec)!;
            SweepSpec? document;
            try
            {
                document = JsonSerializer.Deserialize(await File.ReadAllTextAsync(path, ct).ConfigureAwait(false), ContractsJsonContext.Default.SweepSpec);
            }
            catch (Exception ex) when (ex is IOException or JsonException or UnauthorizedAccessException)
            {
                throw new CliException($"--spec {path}: {ex.Message}", ex);
            }

            using var api = parse.CreateApi();
            var sweep = await api.SubmitSweepAsync(document ?? throw new CliException($"--spec {path}: the file holds no spec"), ct).ConfigureAwait(false);
            if (parse.GetValue(watch))
            {
                Console.Error.WriteLine($"sweep {sweep.Id} submitted");
                return await WatchAsync(api, sweep.Id, ct).ConfigureAwait(false);
            }

            if (parse.IsDocument())
            {
                Render.Document(parse.Format(), sweep, ContractsJsonContext.Default.SweepInfo);
            }
            else
            {
                Console.Out.WriteLine($"sweep {sweep.Id} submitted on {sweep.Dataset}: task {sweep.Task}, metric {sweep.Metric}; watch it with 'edgectl sweep watch {sweep.Id}'");
            }

            return 0;
        });
        return submit;
    }

    public static IReadOnlyList<Column<SweepInfo>> SweepColumns { get; } =
    [
        new("ID", s => s.Id),
        new("STATUS", s => s.Status),
        new("DATASET", s => s.Dataset),
        new("METRIC", s => s.Metric ?? ""),
        new("TRIALS", s => $"{s.Succeeded + s.Failed}/{s.Trials}"),
        new("RUNNING", s => Render.Number(s.Running)),
        new("BEST", s => s.BestScore is { } best ? Render.Number(best, "0.#####") : ""),
        new("MODEL", s => s.ModelVersion is null ? "" : $"{s.ModelName}:{s.ModelVersion}"),
        new("CREATED", s => Render.Time(s.CreatedAt)) { WideOnly = true },
        new("ERROR", s => s.Error ?? "") { WideOnly = true },
    ];

    public static IReadOnlyList<Column<TrialInfo>> TrialColumns { get; } =
    [
        new("#", t => Render.Number(t.Number)),
        new("TRAINER", t => t.Trainer),
        new("STATUS", t => t.Status),
        new("FIDELITY", t => Render.Number(t.Fidelity, "0.##")),
        new("SCORE", t => t.Score is { } score ? Render.Number(score, "0.#####") : ""),
        new("SECONDS", t => t.DurationSeconds is { } d ? Render.Number(d, "0.0") : ""),
        new("WORKER", t => t.WorkerId ?? ""),
        new("ATTEMPT", t => Render.Number(t.Attempt)) { WideOnly = true },
        new("PARAMETERS", t => string.Join(" ", t.Parameters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value.ToString("G4", CultureInfo.InvariantCulture)}"))),
        new("ERROR", t => t.Error ?? "") { WideOnly = true },
    ];

    private static Command List()
    {
        var list = new Command("list", "Sweeps, newest first");
        list.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            return Render.List(parse, await api.ListSweepsAsync(ct).ConfigureAwait(false), ContractsJsonContext.Default.IReadOnlyListSweepInfo, SweepColumns);
        });
        return list;
    }

    private static Command Show()
    {
        var id = IdArgument();
        var show = new Command("show", "One sweep: its spec, progress, best trial and published version") { id };
        show.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var sweep = await api.GetSweepAsync(parse.GetValue(id)!, ct).ConfigureAwait(false);
            if (parse.IsDocument())
            {
                Render.Document(parse.Format(), sweep, ContractsJsonContext.Default.SweepInfo);
                return 0;
            }

            Render.Table(["FIELD", "VALUE"], Describe(sweep).Select(f => (IReadOnlyList<string>)[f.Name, f.Value]));
            return 0;
        });
        return show;
    }

    private static IEnumerable<(string Name, string Value)> Describe(SweepInfo sweep)
    {
        yield return ("id", sweep.Id);
        yield return ("status", sweep.Status);
        yield return ("dataset", $"{sweep.Dataset} ({Render.ShortDigest(sweep.DatasetDigest)})");
        yield return ("task", sweep.Task ?? "");
        yield return ("metric", sweep.Metric ?? "");
        yield return ("trials", $"{sweep.Trials} ({sweep.Succeeded} succeeded, {sweep.Failed} failed, {sweep.Running} running, {sweep.Queued} queued)");
        yield return ("budget", $"{(sweep.Spec.MaxTrials is { } max ? $"{max} trials" : "no trial limit")}, {(sweep.Spec.BudgetSeconds is { } seconds ? $"{seconds} s" : "default time")}");
        yield return ("best", sweep.BestTrial is { } best ? $"trial {best}: {Render.Number(sweep.BestScore ?? double.NaN, "0.######")}" : "");
        yield return ("model", sweep.ModelVersion is null ? sweep.ModelName : $"{sweep.ModelName}:{sweep.ModelVersion} ({Render.ShortDigest(sweep.ManifestDigest)})");
        yield return ("created", $"{Render.Time(sweep.CreatedAt)} by {sweep.CreatedBy}");
        yield return ("finished", Render.Time(sweep.FinishedAt));
        if (sweep.Error is not null)
        {
            yield return ("error", sweep.Error);
        }
    }

    private static Command Watch()
    {
        var id = IdArgument();
        var watch = new Command("watch", "Live trial table and progress until the sweep finishes") { id };
        watch.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            return await WatchAsync(api, parse.GetValue(id)!, ct).ConfigureAwait(false);
        });
        return watch;
    }

    private static async Task<int> WatchAsync(ApiClient api, string id, CancellationToken ct)
    {
        var sweep = await api.GetSweepAsync(id, ct).ConfigureAwait(false);
        var trials = await api.QueryTrialsAsync(id, new Dictionary<string, string?> { ["sort"] = "number", ["desc"] = "true", ["limit"] = "15" }, ct).ConfigureAwait(false);
        await AnsiConsole.Live(View(sweep, trials)).StartAsync(async live =>
        {
            while (SweepStatuses.IsActive(sweep.Status))
            {
                await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
                sweep = await api.GetSweepAsync(id, ct).ConfigureAwait(false);
                trials = await api.QueryTrialsAsync(id, new Dictionary<string, string?> { ["sort"] = "number", ["desc"] = "true", ["limit"] = "15" }, ct).ConfigureAwait(false);
                live.UpdateTarget(View(sweep, trials));
            }
        }).ConfigureAwait(false);
        Console.Out.WriteLine(sweep.Status == SweepStatuses.Succeeded
            ? $"sweep {id} published {sweep.ModelName}:{sweep.ModelVersion} from trial {sweep.BestTrial} ({sweep.Metric} {Render.Number(sweep.BestScore ?? double.NaN, "0.######")})"
            : $"sweep {id} {sweep.Status}{(sweep.Error is null ? "" : $": {sweep.Error}")}");
        return sweep.Status == SweepStatuses.Succeeded ? 0 : 1;
    }

    private static Rows View(SweepInfo sweep, TrialPage trials)
    {
        var done = sweep.Succeeded + sweep.Failed;
        var elapsed = ((sweep.FinishedAt ?? DateTimeOffset.UtcNow) - sweep.CreatedAt).TotalSeconds;
        var fraction = sweep.Spec.MaxTrials is { } max
            ? (double)done / max
            : elapsed / (sweep.Spec.BudgetSeconds ?? 600);
        fraction = sweep.Status == SweepStatuses.Succeeded ? 1 : Math.Clamp(fraction, 0, 1);
        var width = 30;
        var filled = (int)Math.Round(fraction * width);
        var header = new Markup(Markup.Escape(
            $"{sweep.Id}  {sweep.Status}  [{new string('#', filled)}{new string('.', width - filled)}] {fraction:P0}  "
            + $"{done} done, {sweep.Running} running, {sweep.Queued} queued, {elapsed:0} s"
            + (sweep.BestTrial is { } best ? $"  best #{best} {sweep.Metric} {sweep.BestScore:0.#####}" : "")));
        var table = new Table();
        foreach (var column in TrialColumns.Where(c => !c.WideOnly))
        {
            table.AddColumn(column.Header);
        }

        foreach (var trial in trials.Items)
        {
            table.AddRow([.. TrialColumns.Where(c => !c.WideOnly).Select(c => Markup.Escape(c.Value(trial)))]);
        }

        return new Rows(header, table);
    }

    private static Command Stop()
    {
        var id = IdArgument();
        var stop = new Command("stop", "Stop a sweep: its running trials are killed within seconds, nothing is published") { id };
        stop.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var sweep = await api.StopSweepAsync(parse.GetValue(id)!, ct).ConfigureAwait(false);
            Console.Out.WriteLine($"sweep {sweep.Id} {sweep.Status}");
            return 0;
        });
        return stop;
    }

    private static Command Trials()
    {
        var id = IdArgument();
        var trainer = new Option<string>("--trainer") { Description = "Only this trainer's trials" };
        var status = new Option<string>("--status") { Description = "Only trials in this status (queued, leased, succeeded, failed, cancelled)" };
        var minScore = new Option<double?>("--min-score") { Description = "Only trials scoring at least this" };
        var maxScore = new Option<double?>("--max-score") { Description = "Only trials scoring at most this" };
        var param = new Option<string>("--param") { Description = "Only trials that set this parameter (bound it with --param-min and --param-max)" };
        var paramMin = new Option<double?>("--param-min") { Description = "The --param's lowest value" };
        var paramMax = new Option<double?>("--param-max") { Description = "The --param's highest value" };
        var sort = new Option<string>("--sort") { Description = "number (default), score, duration or a metric name; best first for score and metrics" };
        var limit = new Option<int?>("--limit") { Description = "At most this many trials (default: all)" };
        var trials = new Command("trials", "A sweep's trials, filtered and sorted") { id, trainer, status, minScore, maxScore, param, paramMin, paramMax, sort, limit };
        trials.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var sweepId = parse.GetValue(id)!;
            var sortBy = parse.GetValue(sort) ?? "number";
            var descending = sortBy != "number" && sortBy != "duration" && SweepMetrics.HigherIsBetter(sortBy == "score" ? (await api.GetSweepAsync(sweepId, ct).ConfigureAwait(false)).Metric ?? SweepMetrics.Auc : sortBy);
            var filters = new Dictionary<string, string?>
            {
                ["trainer"] = parse.GetValue(trainer),
                ["status"] = parse.GetValue(status),
                ["minScore"] = parse.GetValue(minScore)?.ToString("R", CultureInfo.InvariantCulture),
                ["maxScore"] = parse.GetValue(maxScore)?.ToString("R", CultureInfo.InvariantCulture),
                ["param"] = parse.GetValue(param),
                ["paramMin"] = parse.GetValue(paramMin)?.ToString("R", CultureInfo.InvariantCulture),
                ["paramMax"] = parse.GetValue(paramMax)?.ToString("R", CultureInfo.InvariantCulture),
                ["sort"] = sortBy,
                ["desc"] = descending ? "true" : null,
            };
            IReadOnlyList<TrialInfo> items = parse.GetValue(limit) is { } max
                ? (await api.QueryTrialsAsync(sweepId, new Dictionary<string, string?>(filters) { ["limit"] = max.ToString(CultureInfo.InvariantCulture) }, ct).ConfigureAwait(false)).Items
                : await api.AllTrialsAsync(sweepId, filters, ct).ConfigureAwait(false);
            Render.Rows(parse.Format(), TrialColumns, items);
            return 0;
        });
        return trials;
    }

    private static Command Compare()
    {
        var first = new Argument<string>("first") { Description = "A sweep id" };
        var second = new Argument<string>("second") { Description = "Another sweep id" };
        var compare = new Command("compare", "Two sweeps side by side: settings, trials, best trial and model") { first, second };
        compare.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var a = await api.GetSweepAsync(parse.GetValue(first)!, ct).ConfigureAwait(false);
            var b = await api.GetSweepAsync(parse.GetValue(second)!, ct).ConfigureAwait(false);
            var left = Describe(a).ToDictionary(f => f.Name, f => f.Value, StringComparer.Ordinal);
            var right = Describe(b).ToDictionary(f => f.Name, f => f.Value, StringComparer.Ordinal);
            var leaders = new List<(string, string, string)>();
            var bestA = await BestTrialsAsync(api, a, ct).ConfigureAwait(false);
            var bestB = await BestTrialsAsync(api, b, ct).ConfigureAwait(false);
            for (var i = 0; i < Math.Max(bestA.Count, bestB.Count); i++)
            {
                leaders.Add(($"top {i + 1}", i < bestA.Count ? bestA[i] : "", i < bestB.Count ? bestB[i] : ""));
            }

            Render.Table(
                ["FIELD", a.Id, b.Id],
                left.Keys.Union(right.Keys).Select(k => (IReadOnlyList<string>)[k, left.GetValueOrDefault(k, ""), right.GetValueOrDefault(k, "")])
                    .Concat(leaders.Select(l => (IReadOnlyList<string>)[l.Item1, l.Item2, l.Item3])));
            return 0;
        });
        return compare;
    }

    private static async Task<IReadOnlyList<string>> BestTrialsAsync(ApiClient api, SweepInfo sweep, CancellationToken ct)
    {
        var page = await api.QueryTrialsAsync(sweep.Id, new Dictionary<string, string?>
        {
            ["status"] = TrialStatuses.Succeeded,
            ["sort"] = "score",
            ["desc"] = sweep.Metric is null || SweepMetrics.HigherIsBetter(sweep.Metric) ? "true" : null,
            ["limit"] = "5",
        }, ct).ConfigureAwait(false);
        return [.. page.Items.Select(t => $"#{t.Number} {t.Trainer} {Render.Number(t.Score ?? double.NaN, "0.#####")}")];
    }

    private static Command Export()
    {
        var id = IdArgument();
        var parquet = new Option<string>("--parquet") { Description = "The Parquet file to write", Required = true };
        var export = new Command("export", "Write every trial of a sweep to a Parquet file (one row per trial, one column per metric)") { id, parquet };
        export.SetAction(async (parse, ct) =>
        {
            using var api = parse.CreateApi();
            var bytes = await api.ExportSweepAsync(parse.GetValue(id)!, ct).ConfigureAwait(false);
            await File.WriteAllBytesAsync(parse.GetValue(parquet)!, bytes, ct).ConfigureAwait(false);
            Console.Error.WriteLine($"wrote {bytes.Length} bytes to {parse.GetValue(parquet)}");
            return 0;
        });
        return export;
    }
}
