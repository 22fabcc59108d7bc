using System.Diagnostics;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Experiments;
using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Host.Tests.Storage;
using EdgePlatform.ControlPlane.Host.Telemetry;
using EdgePlatform.ControlPlane.Ports;
using HdrHistogram;
using Xunit.Abstractions;

namespace EdgePlatform.ControlPlane.Host.Tests.Experiments;

/// <summary>The experiment analysis over the store the server really uses, at fleet size.</summary>
public sealed class ExperimentAnalyzerSqliteTests(ITestOutputHelper output) : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly TempDatabase _database = new();

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task Analyze_2000DevicesThatSwitchedMidway_CountsOnlyTheirArmsRecords()
    {
        const int devices = 2000;
        const int hours = 4;
        using var stores = Stores.OpenSqlite(_database.Path);
        var store = stores.Telemetry;
        var fast = Histogram(5, 1000);
        var slow = Histogram(300, 1000);
        List<ExperimentUnitAssignment> assignments = [];
        for (var d = 0; d < devices; d++)
        {
            var device = $"dev-{d:D4}";
            var arm = d % 2 == 0 ? "a" : "b";
            assignments.Add(new(device, arm, device));
            List<QualityRecord> quality = [];
            List<PerfRecord> perf = [];
            for (var h = 0; h < hours; h++)
            {
                // The first hour the device still ran the previous model; arm b is slower and better.
                var digest = h < 1 ? "sha256:old" : $"sha256:{arm}";
                var correct = h < 1 ? 0 : arm == "a" ? 60 : 70;
                var at = Start.AddHours(h).AddMinutes(1);
                quality.Add(new QualityRecord(
                    (2 * h) + 1, at, "m", "1", digest, Arms.Control, 100, 0.5, [], [], [], [], [], [], [], [], [], [], null,
                    100, correct / 2, 0, correct - (correct / 2), 100 - correct, 0, 0, 0));
                perf.Add(new PerfRecord(
                    (2 * h) + 2, at, 3_600_000, "m", "1", digest, Arms.Control, 1000, 1000, 0, 0, 0, 1, 2, 3, 4, 1,
                    arm == "b" && h >= 1 ? slow : fast, 10, 100, 100, [10]));
            }

            await store.WriteTelemetryAsync(new TelemetryWrite(Start.AddHours(hours), [
                new DeviceTelemetry(device, TelemetryKinds.Quality, []) { Quality = quality },
                new DeviceTelemetry(device, TelemetryKinds.Perf, []) { Perf = perf }], []), CancellationToken.None);
        }

        var analyzer = new ExperimentAnalyzer(store, new LatencyHistograms.Reader());
        var experiment = new ExperimentInfo(
            "e1", "test", [Arm("a"), Arm("b")], "site=x", ExperimentUnits.Device, null, "id", null, new ExperimentMetric(ExperimentMetricKinds.Accuracy),
            new ExperimentGuardrails(MaxP99LatencyMs: 100), 0, "salt", 0.05, 5000, ExperimentStates.Running, Start, null, null, null);

        var watch = Stopwatch.StartNew();
        var look = await analyzer.AnalyzeAsync(experiment, assignments, Start.AddHours(hours), CancellationToken.None);
        watch.Stop();
        output.WriteLine($"{devices} devices, {devices * hours * 2} records: analysed in {watch.Elapsed.TotalMilliseconds:0} ms");

        Assert.Equal([1000L, 1000L], look.Arms.Select(a => a.Units));
        Assert.Equal([1000L * 100 * (hours - 1), 1000L * 100 * (hours - 1)], look.Arms.Select(a => a.Labelled));
        Assert.Equal(0.6, look.Arms[0].Value!.Value, 12);
        Assert.Equal(0.7, look.Arms[1].Value!.Value, 12);
        var comparison = Assert.Single(look.Comparisons);
        Assert.True(comparison.Significant);
        Assert.False(look.SampleRatio.Alarm);
        Assert.Equal([false, true], look.Guardrails.Select(g => g.Breached));
        Assert.InRange(look.Arms[1].P99LatencyMs!.Value, 299, 301);
    }

    private static ExperimentArm Arm(string name) => new(name, new ModelReference("models", "m", name, $"sha256:{name}", 100, "sig"), 1);

    private static byte[] Histogram(long ms, int count)
    {
        var histogram = new LongHistogram(60_000_000, 3);
        histogram.RecordValueWithCount(ms * 1000, count);
        return LatencyHistograms.Encode(histogram);
    }
}
