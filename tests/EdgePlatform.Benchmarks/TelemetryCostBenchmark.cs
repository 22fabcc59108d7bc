using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using EdgePlatform.Agent.Core.Telemetry;
using EdgePlatform.Agent.Inference;
using EdgePlatform.Agent.Inference.Engine;
using EdgePlatform.Agent.Scoring;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Benchmarks;

/// <summary>
/// What per-version telemetry costs the scoring path: the engine in-process without an observer
/// (the baseline) against the engine with the agent's <see cref="ScoringTelemetry"/> at the default
/// feature sample rate, at every event, and with the feedback memory off. Phases alternate and
/// repeat, and each configuration reports its median run, so drift in the machine's other load
/// falls on all of them alike.
/// </summary>
internal static class TelemetryCostBenchmark
{
    public static async Task<int> RunAsync(HarnessOptions options)
    {
        var rounds = options.Smoke ? 1 : 3;
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
                Say("smoke run: tiny sizes, 1 s phases and one round to show every configuration still scores; the figures mean nothing");
            }

            Say($"machine: {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}");
            Say(string.Create(CultureInfo.InvariantCulture, $"engine in-process, JSON events with ids, {options.Phase.TotalSeconds:F0} s phases, {rounds} round(s), median shown"));
            Say(string.Empty);
            (string Name, Func<TelemetryWiring?> Observer)[] configurations =
            [
                ("no telemetry (baseline)", () => null),
                ("telemetry, features of 1 in 10 events", () => new TelemetryWiring(0.1, 20_000)),
                ("telemetry, features of every event", () => new TelemetryWiring(1, 20_000)),
                ("telemetry, 1 in 10, feedback memory off", () => new TelemetryWiring(0.1, 0)),
            ];

            foreach (var model in models)
            {
                var runs = configurations.ToDictionary(c => c.Name, _ => new List<(double Rate, double CpuUs)>());
                for (var round = 0; round < rounds; round++)
                {
                    foreach (var (name, observer) in configurations)
                    {
                        Console.Error.WriteLine($"[{model.Label}] round {round + 1}: {name}…");
                        // CPU over the same window as the rate: not model loading, warm-up or shutdown.
                        var result = await EngineInProcess.RunAsync(model, options.Phase, observer()?.Create(), name);
                        runs[name].Add((result.EventsPerSecond, result.CpuMicrosecondsPerEvent));
                        if (result.Received == 0 || result.Lost != 0)
                        {
                            failures.Add($"[{model.Label}] {name}: {result.Received:N0} of {result.Sent:N0} scored");
                        }
                    }
                }

                Say($"#### {model.Label}");
                Say(string.Empty);
                Say("| configuration | engine events/s | vs baseline | engine CPU per event µs | vs baseline | observer alone, ns per event | allocated per event |");
                Say("|---|---:|---:|---:|---:|---:|---:|");
                var baseline = Median(runs[configurations[0].Name]);
                foreach (var (name, observer) in configurations)
                {
                    var median = Median(runs[name]);
                    var (alone, allocated) = observer() is { } wiring ? ObserverAlone(model, wiring.Create(), options.Phase) : (0, 0);
                    Say(string.Create(CultureInfo.InvariantCulture,
                        $"| {name} | {median.Rate:N0} | {median.Rate / baseline.Rate:P0} | {median.CpuUs:F2} | {median.CpuUs / baseline.CpuUs:P0} | {alone:F0} | {allocated:F1} B |"));
                }

                Say(string.Empty);
            }

            Say(failures.Count == 0 ? "every configuration scored every event" : "FAILED: " + string.Join("; ", failures));
            if (options.OutFile is { } file)
            {
                await File.WriteAllTextAsync(file, report.ToString());
            }

            return failures.Count == 0 ? 0 : 1;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>
    /// The observer on its own, on one thread: runs of 64 of the model's rows with real
    /// predictions, each event with an id of its own (so the feedback memory keeps turning over),
    /// nanoseconds and bytes allocated per event.
    /// </summary>
    private static (double Nanoseconds, double Bytes) ObserverAlone(BenchModel model, ScoringTelemetry observer, TimeSpan duration)
    {
        const int Rows = 64;
        using var loaded = LoadedModel.Load(model.Card, model.OnnxPath, new OnnxModelSettings());
        var width = loaded.FeatureCount;
        var features = new float[Rows * width];
        for (var row = 0; row < Rows; row++)
        {
            model.Rows[row % model.Rows.Count].AsSpan(0, width).CopyTo(features.AsSpan(row * width, width));
        }

        var predictions = new RowPrediction[Rows];
        loaded.ScoreBatch(features, predictions);
        var latencies = Enumerable.Range(0, Rows).Select(i => TimeSpan.FromMicroseconds(500 + (37 * i))).ToArray();
        var ids = Enumerable.Range(0, 100_000).Select(i => $"event-{i}").ToArray();
        var batch = new string?[Rows];
        long events = 0;
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var started = Stopwatch.GetTimestamp();
        var end = started + (long)(duration.TotalSeconds / 2 * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < end)
        {
            for (var repeat = 0; repeat < 64; repeat++)
            {
                for (var i = 0; i < Rows; i++)
                {
                    batch[i] = ids[(events + i) % ids.Length];
                }

                observer.OnScored(new ScoredRun(loaded, Contracts.Arms.Control, features, predictions, latencies, batch));
                events += Rows;
            }
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        return (elapsed.TotalNanoseconds / events, (double)(GC.GetAllocatedBytesForCurrentThread() - allocatedBefore) / events);
    }

    private static (double Rate, double CpuUs) Median(List<(double Rate, double CpuUs)> runs)
    {
        var rates = runs.Select(r => r.Rate).Order().ToList();
        var cpu = runs.Select(r => r.CpuUs).Order().ToList();
        return (rates[rates.Count / 2], cpu[cpu.Count / 2]);
    }

    /// <summary>The agent's telemetry wiring, fresh per phase.</summary>
    private sealed class TelemetryWiring(double featureSampleRate, int memoryCapacity)
    {
        public ScoringTelemetry Create()
        {
            var metrics = new ScoringMetrics(featureSampleRate);
            var feedback = new FeedbackRecorder(metrics, Options.Create(new FeedbackOptions { MemoryCapacity = memoryCapacity }), TimeProvider.System);
            return new ScoringTelemetry(metrics, feedback);
        }
    }
}
