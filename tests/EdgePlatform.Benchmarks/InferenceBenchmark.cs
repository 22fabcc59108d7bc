using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace EdgePlatform.Benchmarks;

/// <param name="Phase">How long each measured phase runs.</param>
/// <param name="OutFile">Where to write the report as well, if anywhere.</param>
/// <param name="Smoke">
/// A run of seconds with tiny sizes through the same code paths, so the suite can tell that the
/// benchmark still starts and answers; its figures mean nothing.
/// </param>
internal sealed record HarnessOptions(TimeSpan Phase, string? OutFile, bool Smoke = false)
{
    public const string Usage = "[--seconds N] [--out FILE] [--smoke]";

    private static readonly TimeSpan SmokePhase = TimeSpan.FromSeconds(1);

    public static HarnessOptions Parse(string[] args)
    {
        var seconds = 8.0;
        string? outFile = null;
        var smoke = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seconds" when i + 1 < args.Length && double.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var value) && value >= 2:
                    seconds = value;
                    i++;
                    break;
                case "--out" when i + 1 < args.Length:
                    outFile = args[++i];
                    break;
                case "--smoke":
                    smoke = true;
                    break;
                default:
                    throw new ArgumentException($"unknown or invalid argument '{args[i]}' (expected --seconds N with N >= 2, --out FILE or --smoke)");
            }
        }

        return new HarnessOptions(smoke ? SmokePhase : TimeSpan.FromSeconds(seconds), outFile, smoke);
    }

    /// <summary>The benchmark models: the demo's as it is, and the large one cut down for a smoke run.</summary>
    public BenchModel[] Models(string directory) =>
        [BenchModels.Demo(directory), Smoke ? BenchModels.Large(directory, trees: 10, rows: 2_000) : BenchModels.Large(directory)];
}

/// <summary>
/// Bare ONNX Runtime, the engine in-process, and the agent's scoring host as a separate process
/// fed over its local broker — the same models, machine and run — reported as one table.
/// </summary>
internal static class InferenceBenchmark
{
    private const int OfferedRate = 5_000;

    public static async Task<int> RunAsync(HarnessOptions options)
    {
        var directory = Directory.CreateTempSubdirectory("edge-bench-").FullName;
        var report = new StringBuilder();
        void Say(string line)
        {
            Console.WriteLine(line);
            report.AppendLine(line);
        }

        try
        {
            Console.Error.WriteLine("training the demo model and the LightGbm model…");
            var models = options.Models(directory);
            var failures = new List<string>();
            if (options.Smoke)
            {
                Say("smoke run: tiny sizes and 1 s phases to show every path still answers; the figures mean nothing");
            }

            Say($"machine: {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.ProcessArchitecture}");
            var defaults = new EdgePlatform.Agent.Inference.Engine.InferenceEngineOptions();
            Say(string.Create(CultureInfo.InvariantCulture, $"phase length {options.Phase.TotalSeconds:F0} s; agent defaults: batches ≤ {defaults.MaxBatchSize}, queue delay ≤ {defaults.MaxQueueDelayMs} ms, 1 intra-op thread; load generator on the same cores"));
            Say(string.Empty);

            foreach (var model in models)
            {
                var rows = new List<PhaseResult>();
                Console.Error.WriteLine($"[{model.Label}] bare ONNX Runtime…");
                var (bare1, bare1Us) = MeteredBare(model, 1, options.Phase / 2);
                var (bare64, bare64Us) = MeteredBare(model, 64, options.Phase / 2);
                var (bare1024, bare1024Us) = MeteredBare(model, 1024, options.Phase / 2);
                rows.Add(bare1);
                rows.Add(bare64);
                rows.Add(bare1024);
                Console.Error.WriteLine($"[{model.Label}] engine in-process…");
                var harnessBefore = ProcStats.Cpu(Environment.ProcessId);
                var inProcess = await EngineInProcess.RunAsync(model, options.Phase / 2);
                var inProcessUs = (ProcStats.Cpu(Environment.ProcessId) - harnessBefore).TotalMicroseconds / Math.Max(1, inProcess.Received);
                rows.Add(inProcess with { Note = string.Create(CultureInfo.InvariantCulture, $"CPU per event {inProcessUs:F1} µs (engine and feeder); {inProcess.Note}") });
                var bindUs = EngineInProcess.BindMicroseconds(model);

                Console.Error.WriteLine($"[{model.Label}] agent host process…");
                double rssLoaded, rssAfter, firstPredictionMs;
                PhaseResult? swap = null;
                List<double> swapLatencies = [];
                await using (var agent = AgentProcess.Start(model))
                {
                    await using var load = new LoadClient(agent.BrokerPort, model);
                    await load.ConnectAsync(TimeSpan.FromSeconds(30));
                    var first = await load.FirstPredictionAsync(TimeSpan.FromSeconds(30));
                    firstPredictionMs = Stopwatch.GetElapsedTime(agent.StartedAt, first).TotalMilliseconds;
                    rssLoaded = agent.RssMiB();

                    // A device runs the agent for hours: measured seconds after its start, its
                    // scoring path is still being compiled (a profile of the Arrow phase found a
                    // sixth of the agent's CPU in the JIT and most samples in unoptimized code), so
                    // each kind of traffic runs unmeasured first, until tiered compilation settles.
                    Console.Error.WriteLine($"[{model.Label}] warming the agent…");
                    await load.ClosedLoopArrowAsync("warm-up, Arrow 64", options.Phase / 2, window: 16, batchSize: 64);
                    await load.ClosedLoopArrowAsync("warm-up, Arrow 1,024", options.Phase / 2, window: 4, batchSize: 1024);
                    await load.ClosedLoopJsonAsync("warm-up, JSON", options.Phase / 2, window: 4096);

                    rows.Add(await Metered(agent, () => load.ClosedLoopArrowAsync("agent, Arrow batches of 64 over MQTT", options.Phase, window: 16, batchSize: 64), (bare64Us, 64)));
                    rows.Add(await Metered(agent, () => load.ClosedLoopArrowAsync("agent, Arrow batches of 1,024 over MQTT", options.Phase, window: 4, batchSize: 1024), (bare1024Us, 1024)));
                    rows.Add(await Metered(agent, () => load.ClosedLoopJsonAsync("agent, single JSON events over MQTT", options.Phase, window: 4096), (bare1Us, 1)));
                    rows.Add(await Metered(agent, async () => (await load.PacedJsonAsync($"agent, JSON offered at {OfferedRate}/s", options.Phase, OfferedRate)).All));
                    if (model == models[0])
                    {
                        var (all, windowLatencies) = await load.PacedJsonAsync(
                            $"agent, JSON at {OfferedRate}/s with 2 hot swaps",
                            options.Phase * 1.5,
                            OfferedRate,
                            async started =>
                            {
                                var windows = new List<(long, long)>();
                                foreach (var (version, at) in new[] { ("2", 0.33), ("3", 0.66) })
                                {
                                    var due = started + (long)(options.Phase.TotalSeconds * 1.5 * at * Stopwatch.Frequency);
                                    while (Stopwatch.GetTimestamp() < due)
                                    {
                                        await Task.Delay(10);
                                    }

                                    var from = Stopwatch.GetTimestamp();
                                    await load.SwapAsync(version);
                                    windows.Add((from, Stopwatch.GetTimestamp() + (Stopwatch.Frequency / 2)));
                                }

                                return windows;
                            });
                        swap = all;
                        swapLatencies = windowLatencies;
                        rows.Add(all);
                    }

                    rssAfter = agent.RssMiB();
                    if (load.Duplicates > 0)
                    {
                        failures.Add($"[{model.Label}] {load.Duplicates} duplicate predictions");
                    }
                }

                Say($"### {model.Label}: {Describe(model)}");
                Say(string.Empty);
                Say("| scenario | events/s | vs bare ORT batch 64 | p50 ms | p99 ms | sent | answered | lost | note |");
                Say("|---|---:|---:|---:|---:|---:|---:|---:|---|");
                foreach (var row in rows)
                {
                    Say(string.Create(CultureInfo.InvariantCulture,
                        $"| {row.Name} | {row.EventsPerSecond:N0} | {row.EventsPerSecond / bare64.EventsPerSecond:P0} | {row.P50Ms:F3} | {row.P99Ms:F3} | {row.Sent:N0} | {row.Received:N0} | {row.Lost:N0} | {row.Note} |"));
                }

                Say(string.Empty);
                Say(string.Create(CultureInfo.InvariantCulture, $"- bare ORT per event: batch 1 {1000.0 / bare1.EventsPerSecond * 1000:F1} µs, batch 64 {1000.0 / bare64.EventsPerSecond * 1000:F1} µs, batch 1,024 {1000.0 / bare1024.EventsPerSecond * 1000:F1} µs; CPU per event: batch 1 {bare1Us:F2} µs, batch 64 {bare64Us:F2} µs, batch 1,024 {bare1024Us:F2} µs; JSON binding alone {bindUs:F2} µs per event"));
                Say(string.Create(CultureInfo.InvariantCulture, $"- agent start to first prediction: {firstPredictionMs:F0} ms; agent RSS with the model loaded {rssLoaded:F0} MiB, after the load phases {rssAfter:F0} MiB"));
                if (swap is not null)
                {
                    swapLatencies.Sort();
                    Say(string.Create(CultureInfo.InvariantCulture,
                        $"- hot swap: {swap.Sent:N0} events sent, {swap.Received:N0} predictions, {swap.Lost:N0} lost; p99 of events sent during a swap (until 0.5 s after it) {PhaseResult.Percentile(swapLatencies, 0.99):F3} ms over {swapLatencies.Count:N0} events"));
                }

                Say(string.Empty);
                failures.AddRange(rows.Where(row => row.Received == 0 || row.Lost != 0).Select(row => $"[{model.Label}] {row.Name}: {row.Received:N0} of {row.Sent:N0} answered"));
            }

            Say(failures.Count == 0 ? "every phase answered every event" : "FAILED: " + string.Join("; ", failures));
            if (options.OutFile is not null)
            {
                await File.WriteAllTextAsync(options.OutFile, report.ToString());
            }

            return failures.Count == 0 ? 0 : 1;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Bare ONNX Runtime at <paramref name="batch"/>, with this process's CPU time per event: the baseline the agent's CPU per event is stated against.</summary>
    private static (PhaseResult Result, double CpuMicroseconds) MeteredBare(BenchModel model, int batch, TimeSpan duration)
    {
        var before = ProcStats.Cpu(Environment.ProcessId);
        var result = BareOrt.Run(model, batch, duration);
        // The warm-up half-second is not counted in Received, so its CPU is spread over the measured events at the measured rate.
        var cpuUs = (ProcStats.Cpu(Environment.ProcessId) - before).TotalMicroseconds / Math.Max(1, result.Received + (result.EventsPerSecond * 0.5));
        return (result with { Note = string.Create(CultureInfo.InvariantCulture, $"CPU per event {cpuUs:F2} µs") }, cpuUs);
    }

    /// <summary>
    /// Runs a phase and notes the CPU time per answered event of the agent and of this harness (the
    /// load generator), and the agent's against bare ONNX Runtime's at the same batch size.
    /// </summary>
    private static async Task<PhaseResult> Metered(AgentProcess agent, Func<Task<PhaseResult>> phase, (double CpuMicroseconds, int Batch)? bare = null)
    {
        var agentBefore = ProcStats.Cpu(agent.ProcessId);
        var harnessBefore = ProcStats.Cpu(Environment.ProcessId);
        var result = await phase();
        var agentUs = (ProcStats.Cpu(agent.ProcessId) - agentBefore).TotalMicroseconds / Math.Max(1, result.Received);
        var harnessUs = (ProcStats.Cpu(Environment.ProcessId) - harnessBefore).TotalMicroseconds / Math.Max(1, result.Received);
        var ratio = bare is { } baseline ? string.Create(CultureInfo.InvariantCulture, $" ({agentUs / baseline.CpuMicroseconds:F1}× bare ORT batch {baseline.Batch:N0})") : string.Empty;
        return result with { Note = string.Create(CultureInfo.InvariantCulture, $"CPU per event: agent {agentUs:F1} µs{ratio}, load generator {harnessUs:F1} µs{(result.Note is null ? string.Empty : "; " + result.Note)}") };
    }

    private static string Describe(BenchModel model) =>
        $"{model.Card.Name}, {model.Fields.Count} features in {model.Card.Inputs.Count} input(s), {new FileInfo(model.OnnxPath).Length / 1024:N0} KiB ONNX";
}
