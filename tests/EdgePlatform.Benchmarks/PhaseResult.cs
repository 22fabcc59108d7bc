using System.Diagnostics;

namespace EdgePlatform.Benchmarks;

/// <summary>One measured phase. Latency is per call for bare ORT, per event (send to prediction received) for the agent.</summary>
internal sealed record PhaseResult(string Name, long Sent, long Received, double EventsPerSecond, double P50Ms, double P99Ms, double MaxMs)
{
    public long Lost => Sent - Received;

    public string? Note { get; init; }

    /// <summary>This process's CPU per event over the measured window (after warm-up, before shutdown); 0 where not measured.</summary>
    public double CpuMicrosecondsPerEvent { get; init; }

    public static PhaseResult From(string name, long sent, long received, double eventsPerSecond, List<double> latenciesMs)
    {
        latenciesMs.Sort();
        return new PhaseResult(name, sent, received, eventsPerSecond, Percentile(latenciesMs, 0.50), Percentile(latenciesMs, 0.99), latenciesMs.Count == 0 ? 0 : latenciesMs[^1]);
    }

    /// <summary>
    /// When a phase that began at <paramref name="started"/> stops warming up and starts counting:
    /// after <paramref name="warmUp"/>, or a quarter of a phase too short for it (a smoke run).
    /// </summary>
    public static long MeasuredFrom(long started, TimeSpan duration, TimeSpan warmUp) =>
        started + (long)(Math.Min(warmUp.TotalSeconds, duration.TotalSeconds / 4) * Stopwatch.Frequency);

    public static double Percentile(List<double> sorted, double quantile) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(quantile * sorted.Count) - 1, 0, sorted.Count - 1)];
}
