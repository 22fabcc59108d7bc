using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.Training;
using EdgePlatform.Training.Sweeps;
using Spectre.Console;

namespace EdgePlatform.Cli.Commands;

/// <summary>
/// <c>edgectl train --local --spec sweep.json --data FILE</c>: runs the sweep a spec describes on this
/// machine against a file, with no server, showing each trial as it ends; then refits the winner and
/// writes model.onnx, card.json and trials.json. The same spec is later submitted unchanged.
/// </summary>
public static class TrainLocalCommand
{
    private const int ShownTrials = 15;

    public static Option<bool> Local { get; } = new("--local") { Description = "Run an automated search (a sweep) on this machine against --data, with no server" };

    public static Option<string> Spec { get; } = new("--spec") { Description = "With --local: the sweep spec (JSON: label, task, metric, trainers, maxTrials, budgetSeconds, folds, ...)" };

    public static Option<string> Data { get; } = new("--data") { Description = "With --local: the data file (CSV, TSV, Parquet, Arrow, ARFF, JSON lines)" };

    public static Option<string> Out { get; } = new("--out") { Description = "With --local: where model.onnx, card.json and trials.json are written (default: ./sweep-out)" };

    public static Option<int?> Parallel { get; } = new("--parallel") { Description = "With --local: trials run at once (default: the number of CPU cores)" };

    public static async Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(parse);
        var specPath = parse.GetValue(Spec) ?? throw new CliException("--local needs --spec FILE: the sweep spec to run.");
        var dataPath = parse.GetValue(Data) ?? throw new CliException("--local needs --data FILE: the data to search on.");
        var outDir = parse.GetValue(Out) ?? "sweep-out";
        var parallel = parse.GetValue(Parallel) ?? Environment.ProcessorCount;
        if (parallel < 1)
        {
            throw new CliException($"--parallel must be at least 1; it is {parallel}.");
        }

        var spec = ReadSpec(specPath);
        TabularDataset data;
        try
        {
            data = SweepData.LoadFile(dataPath, spec, cancellationToken);
        }
        catch (Exception ex) when (ex is DatasetFormatException or IOException or ArgumentException)
        {
            throw new CliException($"--data {dataPath}: {ex.Message}");
        }

        var options = new LocalSweepOptions
        {
            Parallelism = parallel,
            SweepId = $"local-{DateTimeOffset.UtcNow:yyyyMMddHHmmss}",
            ModelName = spec.ModelName ?? Path.GetFileNameWithoutExtension(dataPath),
        };
        var document = parse.IsDocument();
        LocalSweepResult result;
        try
        {
            if (document || Console.IsOutputRedirected)
            {
                result = await LocalSweep.RunAsync(spec, data, options, document ? null : new Inline(p => Console.Error.WriteLine(Line(p))), cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var view = new TrialView(spec, data.Task);
                LocalSweepResult? finished = null;
                await AnsiConsole.Live(view.Render()).AutoClear(false).StartAsync(async live =>
                {
                    finished = await LocalSweep.RunAsync(spec, data, options, new Inline(p => { view.Add(p); live.UpdateTarget(view.Render()); }), cancellationToken).ConfigureAwait(false);
                }).ConfigureAwait(false);
                result = finished!;
            }
        }
        catch (ArgumentException ex)
        {
            throw new CliException($"--spec {specPath}: {ex.Message}");
        }
        catch (InvalidOperationException ex)
        {
            throw new CliException(ex.Message);
        }

        Directory.CreateDirectory(outDir);
        await File.WriteAllBytesAsync(Path.Combine(outDir, "model.onnx"), result.Model.OnnxModel, cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(outDir, "card.json"), JsonSerializer.Serialize(result.Model.Card, ContractsJsonContext.Default.ModelCard), cancellationToken).ConfigureAwait(false);
        await File.WriteAllBytesAsync(Path.Combine(outDir, "trials.json"), TrialsJson(result.Trials), cancellationToken).ConfigureAwait(false);

        if (document)
        {
            Render.Document(parse.Format(), result.Model.Card, ContractsJsonContext.Default.ModelCard);
            return 0;
        }

        var summary = result.Summary;
        Console.Out.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"best {summary.Metric} {summary.BestScore:0.####} by {summary.BestTrainer} ({summary.Validation}, {summary.Trials} trials); parity max abs diff {result.Model.Card.Metrics.GetValueOrDefault("parityMaxAbsDiff"):G3}"));
        Render.Table(["TRIAL", "TRAINER", summary.Metric.ToUpperInvariant(), "PARAMETERS"], summary.Leaders.Select(l => (IReadOnlyList<string>)[l.Trial.ToString(CultureInfo.InvariantCulture), l.Trainer, Score(l.Score), Parameters(l.Parameters)]));
        Console.Out.WriteLine($"wrote {Path.Combine(outDir, "model.onnx")}, card.json and trials.json");
        return 0;
    }

    internal static SweepSpec ReadSpec(string path)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), ContractsJsonContext.Default.SweepSpec)
                ?? throw new CliException($"--spec {path}: the file holds null, not a sweep spec.");
        }
        catch (JsonException ex)
        {
            throw new CliException($"--spec {path}: not a sweep spec: {ex.Message}");
        }
        catch (IOException ex)
        {
            throw new CliException($"--spec {path}: {ex.Message}");
        }
    }

    /// <summary>Every trial with its parameters, fidelity, metrics, duration or error, for comparing them later.</summary>
    internal static byte[] TrialsJson(IReadOnlyList<LocalTrial> trials)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartArray();
            foreach (var (trial, outcome, error) in trials)
            {
                json.WriteStartObject();
                json.WriteNumber("number", trial.Number);
                json.WriteString("trainer", trial.Trainer);
                json.WriteNumber("fidelity", trial.Fidelity);
                json.WriteNumber("seed", trial.Seed);
                json.WriteStartObject("parameters");
                foreach (var (name, value) in trial.Parameters.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    json.WriteNumber(name, value);
                }

                json.WriteEndObject();
                if (outcome is not null)
                {
                    json.WriteNumber("score", outcome.Score);
                    json.WriteNumber("durationSeconds", outcome.Duration.TotalSeconds);
                    json.WriteStartObject("metrics");
                    foreach (var (name, value) in outcome.Metrics.OrderBy(m => m.Key, StringComparer.Ordinal))
                    {
                        json.WriteNumber(name, value);
                    }

                    json.WriteEndObject();
                }
                else
                {
                    json.WriteString("error", error);
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        return buffer.ToArray();
    }

    private static string Line(LocalSweepProgress p) => p.Finished is { } t
        ? string.Create(CultureInfo.InvariantCulture, $"trial {t.Trial.Number} {t.Trial.Trainer} fidelity {t.Trial.Fidelity:0.##}: {(t.Outcome is { } o ? $"{Score(o.Score)} in {o.Duration.TotalSeconds:0.0}s" : "failed: " + t.Error)} (best {Score(p.BestScore)}, {p.Elapsed.TotalSeconds:0}s)")
        : string.Create(CultureInfo.InvariantCulture, $"refitting the best ({p.BestTrainer}, {Score(p.BestScore)}) on all rows and exporting");

    private static string Score(double? score) => score is { } s ? s.ToString("0.####", CultureInfo.InvariantCulture) : "-";

    private static string Parameters(IReadOnlyDictionary<string, string> parameters) =>
        string.Join(" ", parameters.Select(p => $"{p.Key}={Shorten(p.Value)}"));

    private static string Shorten(string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) ? number.ToString("G4", CultureInfo.InvariantCulture) : value;

    private sealed class Inline(Action<LocalSweepProgress> report) : IProgress<LocalSweepProgress>
    {
        public void Report(LocalSweepProgress value) => report(value);
    }

    /// <summary>The live view: progress against the trial limit or budget, the best so far, and the latest trials.</summary>
    private sealed class TrialView(SweepSpec spec, string task)
    {
        private readonly List<LocalTrial> _trials = [];
        private LocalSweepProgress? _last;

        public void Add(LocalSweepProgress progress)
        {
            _last = progress;
            if (progress.Finished is { } trial)
            {
                _trials.Add(trial);
            }
        }

        public Rows Render()
        {
            var table = new Table().Border(TableBorder.Simple);
            foreach (var header in new[] { "TRIAL", "TRAINER", "FIDELITY", (spec.Metric ?? SweepMetrics.DefaultFor(task)).ToUpperInvariant(), "SECONDS", "PARAMETERS" })
            {
                table.AddColumn(header);
            }

            foreach (var t in _trials.TakeLast(ShownTrials))
            {
                table.AddRow(
                    t.Trial.Number.ToString(CultureInfo.InvariantCulture),
                    Markup.Escape(t.Trial.Trainer),
                    t.Trial.Fidelity.ToString("0.##", CultureInfo.InvariantCulture),
                    t.Outcome is { } o ? Score(o.Score) : "[red]failed[/]",
                    t.Outcome is { } d ? d.Duration.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) : "-",
                    Markup.Escape(t.Outcome is null ? t.Error ?? string.Empty : string.Join(" ", t.Trial.Parameters.Select(p => $"{p.Key}={p.Value.ToString("G4", CultureInfo.InvariantCulture)}"))));
            }

            var p = _last;
            var limit = p?.MaxTrials is { } max ? $"{p.Recorded}/{max} trials" : $"{p?.Recorded ?? 0} trials";
            var time = p?.Budget is { } budget ? $"{p.Elapsed.TotalSeconds:0}s/{budget.TotalSeconds:0}s" : $"{p?.Elapsed.TotalSeconds ?? 0:0}s";
            var best = p?.BestScore is { } score ? $"best {Score(score)} ({Markup.Escape(p.BestTrainer ?? "-")})" : "no full-fidelity result yet";
            var state = p is { Finished: null } ? "refitting the best on all rows and exporting" : $"{p?.Running ?? 0} running";
            return new Rows(new Markup(Markup.Escape(string.Create(CultureInfo.InvariantCulture, $"{limit} · {time} · {best} · {state}"))), table);
        }
    }
}
