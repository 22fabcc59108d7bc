using System.Diagnostics;
using EdgePlatform.Agent.Inference;
using EdgePlatform.Agent.Inference.Engine;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgePlatform.Benchmarks;

/// <summary>
/// The engine alone, fed JSON events in-process: binding, batching and ONNX Runtime without
/// the broker. Set beside bare ORT and the broker figures it shows where the time goes.
/// </summary>
internal static class EngineInProcess
{
    /// <param name="model">The model to score.</param>
    /// <param name="duration">How long to feed it, the first half second (a quarter of a shorter phase) not measured.</param>
    /// <param name="observer">Per-version telemetry as the agent wires it, or none (the baseline).</param>
    /// <param name="name">The phase's name in the report.</param>
    /// <param name="scoring">What scores the model, loaded and warmed, owned by the engine from here on; default: the model in-process.</param>
    public static async Task<PhaseResult> RunAsync(BenchModel model, TimeSpan duration, IScoringObserver? observer = null, string name = "engine in-process, JSON", ScoringModel? scoring = null)
    {
        var payloads = Enumerable.Range(0, model.Rows.Count).Select(i => model.Json(i, i)).ToArray();
        var engine = new InferenceEngine(
            new ModelHost(NullLogger<ModelHost>.Instance),
            new InferenceEngineOptions { MaxBatchSize = 64, QueueCapacity = 100_000, QueueFullPolicy = QueueFullPolicy.Reject },
            TimeProvider.System,
            NullLoggerFactory.Instance,
            observer);
        if (scoring is null)
        {
            var loaded = LoadedModel.Load(model.Card, model.OnnxPath, new OnnxModelSettings());
            loaded.Warm();
            scoring = loaded;
        }

        engine.Control.Activate(scoring);
        using var stop = new CancellationTokenSource();
        var sink = new CountingSink();
        var running = engine.RunAsync(stop.Token);

        const int Window = 4096;
        var started = Stopwatch.GetTimestamp();
        var warmEnd = PhaseResult.MeasuredFrom(started, duration, TimeSpan.FromSeconds(0.5));
        var end = started + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        long sent = 0;
        long warmCount = -1;
        long measuredFrom = 0;
        var cpuFrom = TimeSpan.Zero;
        while (Stopwatch.GetTimestamp() < end)
        {
            if (sent - sink.Scored >= Window)
            {
                // Sleep rather than spin: on two cores a spinning feeder takes the engine's CPU.
                await Task.Delay(1);
                continue;
            }

            if (warmCount < 0 && Stopwatch.GetTimestamp() >= warmEnd)
            {
                warmCount = sink.Scored;
                measuredFrom = Stopwatch.GetTimestamp();
                cpuFrom = ProcStats.Cpu(Environment.ProcessId);
            }

            engine.TryEnqueue(InferenceEvent.FromJson(payloads[sent % payloads.Length], sink));
            sent++;
        }

        var scoredAtEnd = sink.Scored;
        var measuredTo = Stopwatch.GetTimestamp();
        var cpuTo = ProcStats.Cpu(Environment.ProcessId);
        await stop.CancelAsync();
        await running;
        engine.Control.Dispose();
        var measured = scoredAtEnd - Math.Max(0, warmCount);
        var rate = measured / Stopwatch.GetElapsedTime(measuredFrom, measuredTo).TotalSeconds;
        return PhaseResult.From(name, sent, sink.Scored, rate, sink.Latencies) with
        {
            Note = $"mean batch {engine.Counters.MeanBatchSize:F1}",
            CpuMicrosecondsPerEvent = (cpuTo - cpuFrom).TotalMicroseconds / Math.Max(1, measured),
        };
    }

    /// <summary>Microseconds to bind one JSON event to a feature row (the binder alone).</summary>
    public static double BindMicroseconds(BenchModel model)
    {
        using var loaded = LoadedModel.Load(model.Card, model.OnnxPath, new OnnxModelSettings());
        var payloads = Enumerable.Range(0, model.Rows.Count).Select(i => model.Json(i, i)).ToArray();
        var row = new float[loaded.FeatureCount];
        const int Iterations = 200_000;
        for (var i = 0; i < 10_000; i++)
        {
            loaded.Binder.Bind(payloads[i % payloads.Length], row);
        }

        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < Iterations; i++)
        {
            loaded.Binder.Bind(payloads[i % payloads.Length], row);
        }

        return Stopwatch.GetElapsedTime(started).TotalMicroseconds / Iterations;
    }

    private sealed class CountingSink : IInferenceSink
    {
        private long _scored;

        public long Scored => Interlocked.Read(ref _scored);

        public List<double> Latencies { get; } = new(1 << 20);

        public void OnScored(in InferenceEvent inferenceEvent, in ScoredEvent scored)
        {
            if (Latencies.Count < Latencies.Capacity)
            {
                Latencies.Add(scored.Latency.TotalMilliseconds);
            }

            Interlocked.Increment(ref _scored);
        }

        public void OnFailed(in InferenceEvent inferenceEvent, EventOutcome outcome, string reason) =>
            throw new InvalidOperationException($"benchmark event failed: {outcome} {reason}");
    }
}
