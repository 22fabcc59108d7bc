using EdgePlatform.Agent.Core.Telemetry;
using EdgePlatform.Contracts;
using EdgePlatform.FleetSim.Adapters;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgePlatform.FleetSim.Tests;

public sealed class DeviceTelemetryTests
{
    private static readonly ModelReference Bad = new("models/m", "m", "3", "sha256:" + new string('3', 64), 500, "sig");
    private static readonly ModelReference Good = new("models/m", "m", "2", "sha256:" + new string('2', 64), 500, "sig");
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Next_VersionWithItsOwnErrorRate_CountsEventsAndErrorsExactlyOverIntervals()
    {
        var options = SimulatorOptionsTests.Usable();
        options.EventsPerSecond = 2.5;
        options.Versions["m:3"] = new VersionBehaviour(ErrorRate: 0.3);
        var telemetry = new DeviceTelemetry(options, new Random(1));

        var reports = Enumerable.Range(1, 8).Select(i => telemetry.Next(Bad, TimeSpan.FromSeconds(1), Start.AddSeconds(i))).ToList();

        Assert.Equal(20, reports.Sum(r => r.EventsIn));
        Assert.Equal(6, reports.Sum(r => r.Errors));
        Assert.Equal(14, reports.Sum(r => r.EventsScored));
        Assert.All(reports, r => Assert.Equal(Bad.ManifestDigest, r.ManifestDigest));
    }

    [Fact]
    public void Next_VersionWithItsOwnLatency_ReportsPercentilesAroundIt()
    {
        var options = SimulatorOptionsTests.Usable();
        options.Versions["m:3"] = new VersionBehaviour(LatencyMs: 40);
        var telemetry = new DeviceTelemetry(options, new Random(1));

        var slow = telemetry.Next(Bad, TimeSpan.FromSeconds(10), Start);
        var fast = telemetry.Next(Good, TimeSpan.FromSeconds(10), Start);

        Assert.InRange(slow.LatencyP50Ms, 38, 42);
        Assert.InRange(slow.LatencyP99Ms / slow.LatencyP50Ms, 2.19, 2.21);
        Assert.InRange(fast.LatencyP50Ms, options.LatencyMs * 0.95, options.LatencyMs * 1.05);
    }

    [Fact]
    public void Quality_VersionWithItsOwnAccuracy_LabelsTheShareAndConfusionCountsAgreeWithIt()
    {
        var options = SimulatorOptionsTests.Usable();
        options.EventsPerSecond = 100;
        options.LabelledShare = 0.5;
        options.AccuracySpread = 0.01;
        options.Versions["m:3"] = new VersionBehaviour(Accuracy: 0.7);
        var telemetry = new DeviceTelemetry(options, new Random(1));

        var records = Enumerable.Range(1, 20)
            .Select(i => telemetry.Quality(Bad, telemetry.Next(Bad, TimeSpan.FromSeconds(10), Start.AddSeconds(10 * i)))!)
            .ToList();

        var labelled = records.Sum(r => r.Labelled);
        Assert.Equal(10_000, labelled);
        Assert.All(records, r => Assert.Equal(r.Labelled, r.TruePositives + r.FalsePositives + r.TrueNegatives + r.FalseNegatives));
        Assert.All(records, r => Assert.Equal(("m", "3", Arms.Control), (r.ModelName, r.ModelVersion, r.Arm)));
        var accuracy = (double)records.Sum(r => r.TruePositives + r.TrueNegatives) / labelled;

        // Within the device's offset (0.01) and four binomial standard errors (0.018) of the version's accuracy.
        Assert.InRange(accuracy, 0.7 - 0.01 - 0.019, 0.7 + 0.01 + 0.019);
        var positives = (double)records.Sum(r => r.TruePositives + r.FalseNegatives) / labelled;
        Assert.InRange(positives, 0.47, 0.53);
    }

    [Fact]
    public void Quality_DevicesOfOneVersion_DifferByAtMostTheSpread()
    {
        var options = SimulatorOptionsTests.Usable();
        options.EventsPerSecond = 1000;
        options.LabelledShare = 1;
        options.AccuracySpread = 0.05;
        options.Accuracy = 0.8;
        var accuracies = Enumerable.Range(0, 8).Select(seed =>
        {
            var telemetry = new DeviceTelemetry(options, new Random(seed));
            var records = Enumerable.Range(1, 10).Select(i => telemetry.Quality(Good, telemetry.Next(Good, TimeSpan.FromSeconds(10), Start.AddSeconds(10 * i)))!).ToList();
            return (double)records.Sum(r => r.TruePositives + r.TrueNegatives) / records.Sum(r => r.Labelled);
        }).ToList();

        // 100,000 labels a device: a binomial standard error of 0.0013 beside offsets of up to 0.05.
        Assert.All(accuracies, a => Assert.InRange(a, 0.8 - 0.05 - 0.006, 0.8 + 0.05 + 0.006));
        Assert.True(accuracies.Max() - accuracies.Min() > 0.01, string.Join(", ", accuracies));
    }

    [Fact]
    public void Quality_NoActiveModel_SendsNoQualityReport()
    {
        var telemetry = new DeviceTelemetry(SimulatorOptionsTests.Usable(), new Random(1));

        Assert.Null(telemetry.Quality(null, telemetry.Next(null, TimeSpan.FromSeconds(10), Start)));
    }

    [Fact]
    public void Next_NoActiveModel_ReportsAHeartbeatWithoutEvents()
    {
        var telemetry = new DeviceTelemetry(SimulatorOptionsTests.Usable(), new Random(1));

        var report = telemetry.Next(null, TimeSpan.FromSeconds(10), Start);

        Assert.Equal((0L, 0L, (string?)null), (report.EventsIn, report.Errors, report.ModelName));
    }

    [Fact]
    public void Add_MoreThanFitWhileOffline_ShedsTheOldestAndCountsThem()
    {
        var telemetry = new DeviceTelemetry(SimulatorOptionsTests.Usable(), new Random(1));
        using var spool = new MemorySpool(DeviceTelemetry.MaxPending);
        using var outbox = new TelemetryOutbox(spool, NullLogger<TelemetryOutbox>.Instance);

        for (var i = 0; i < DeviceTelemetry.MaxPending + 5; i++)
        {
            outbox.Add(telemetry.Next(Good, TimeSpan.FromSeconds(1), Start.AddSeconds(i)));
        }

        Assert.Equal(DeviceTelemetry.MaxPending, outbox.Depth);
        Assert.Equal(6, spool.Peek(100, long.MaxValue)[0].Id);
        Assert.Equal(5, outbox.ShedTotal);
    }

    [Fact]
    public void Acknowledge_ABatch_RemovesOnlyWhatWasAcknowledged()
    {
        using var spool = new MemorySpool(DeviceTelemetry.MaxPending);
        for (var i = 0; i < 150; i++)
        {
            spool.Append(_ => [1, 2, 3]);
        }

        var batch = spool.Peek(100, long.MaxValue);
        spool.Acknowledge(batch[^1].Id);

        Assert.Equal(50, spool.Count);
        Assert.Equal(101, spool.Peek(100, long.MaxValue)[0].Id);
        Assert.Equal(150, spool.Bytes);
    }
}
