using System.Diagnostics;
using System.Globalization;
using EdgePlatform.Agent.Core.Telemetry;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Telemetry;
using EdgePlatform.ControlPlane.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;

namespace EdgePlatform.Benchmarks.Telemetry;

/// <summary>
/// What feeding <c>/metrics</c> costs the ingest writer per perf report: <see cref="TelemetryMetrics"/>
/// with the server's OpenTelemetry wiring (Prometheus exporter listening), fed perf records whose
/// latency histograms hold 0 (the baseline: counters only), 100, 1,000 and 10,000 latencies, as a
/// device scoring 10, 100 or 1,000 events a second sends every ten seconds. The histograms are
/// decoded beforehand, as ingest does once per record when it checks them. Phases alternate over
/// three rounds and each reports its median, so the machine's other load falls on all alike.
/// </summary>
internal static class MetricsCost
{
    private static readonly int[] LatenciesPerReport = [0, 100, 1_000, 10_000];

    public static int Run(TimeSpan phase)
    {
        var services = new ServiceCollection();
        services.AddMetrics();
        services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(TelemetryMetrics.MeterName).AddPrometheusExporter());
        using var provider = services.BuildServiceProvider();
        _ = provider.GetRequiredService<MeterProvider>();
        using var metrics = new TelemetryMetrics(provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        var reader = new LatencyHistograms.Reader();

        var records = LatenciesPerReport.ToDictionary(n => n, Record);
        var latencies = new Dictionary<PerfRecord, IReadOnlyList<(double Ms, long Count)>>(ReferenceEqualityComparer.Instance);
        foreach (var record in records.Values)
        {
            latencies[record] = reader.Read(record.LatencyHistogram, out var problem) ?? throw new InvalidOperationException(problem);
        }

        var runs = LatenciesPerReport.ToDictionary(n => n, _ => new List<double>());
        for (var round = 0; round < 3; round++)
        {
            foreach (var count in LatenciesPerReport)
            {
                runs[count].Add(MicrosecondsPerReport(metrics, latencies, records[count], phase));
            }
        }

        var baseline = Median(runs[0]);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"/metrics cost per perf report on the ingest writer ({phase.TotalSeconds:0.##} s phases, 3 rounds, median)"));
        Console.WriteLine();
        Console.WriteLine("| latencies in the report | CPU per report | vs baseline | per latency |");
        Console.WriteLine("|---:|---:|---:|---:|");
        foreach (var count in LatenciesPerReport)
        {
            var us = Median(runs[count]);
            var perLatency = count == 0 ? "—" : string.Create(CultureInfo.InvariantCulture, $"{(us - baseline) * 1000 / count:F0} ns");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {count:N0} | {us:F1} µs | {us / baseline:F2}x | {perLatency} |"));
        }

        return 0;
    }

    /// <summary>Feeds the one record again and again for the phase and returns the process CPU per call.</summary>
    private static double MicrosecondsPerReport(
        TelemetryMetrics metrics, IReadOnlyDictionary<PerfRecord, IReadOnlyList<(double Ms, long Count)>> latencies, PerfRecord record, TimeSpan phase)
    {
        IReadOnlyList<PerfRecord> batch = [record];
        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        long calls = 0;
        while (wall.Elapsed < phase)
        {
            for (var i = 0; i < 10; i++)
            {
                metrics.Accepted(batch, latencies);
            }

            calls += 10;
        }

        process.Refresh();
        return (process.TotalProcessorTime - cpuBefore).TotalMicroseconds / calls;
    }

    /// <summary>A perf record with <paramref name="latencies"/> latencies spread over 0.5–20 ms, encoded as devices do.</summary>
    private static PerfRecord Record(int latencies)
    {
        var histogram = new LatencyHistogram();
        var random = new Random(latencies);
        for (var i = 0; i < latencies; i++)
        {
            histogram.Record(TimeSpan.FromMicroseconds(500 + random.Next(19_500)));
        }

        return new PerfRecord(
            1, DateTimeOffset.UtcNow, 10_000, "bench", "1", "sha256:00", "control", latencies, latencies, 0, 0, 0,
            histogram.PercentileMs(50), histogram.PercentileMs(95), histogram.PercentileMs(99), histogram.MaxMs, histogram.MeanMs,
            latencies == 0 ? ReadOnlyMemory<byte>.Empty : histogram.Encode(), 1, latencies, latencies, []);
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
}
