using EdgePlatform.Contracts;

namespace EdgePlatform.FleetSim.Tests;

public sealed class DeviceTelemetryTests
{
    private static readonly ModelReference Bad = new("models/m", "m", "3", "sha256:" + new string('3', 64), 500, "sig");
    private static readonly ModelReference Good = new("models/m", "m", "2", "sha256:" + new string('2', 64), 500, "sig");
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Add_VersionWithItsOwnErrorRate_CountsEventsAndErrorsExactlyOverIntervals()
    {
        var options = SimulatorOptionsTests.Usable();
        options.EventsPerSecond = 2.5;
        options.Versions["m:3"] = new VersionBehaviour(ErrorRate: 0.3);
        var telemetry = new DeviceTelemetry(options, new Random(1));

        var reports = Enumerable.Range(1, 8).Select(i => telemetry.Add(Bad, TimeSpan.FromSeconds(1), Start.AddSeconds(i))).ToList();

        Assert.Equal(20, reports.Sum(r => r.EventsIn));
        Assert.Equal(6, reports.Sum(r => r.Errors));
        Assert.Equal(14, reports.Sum(r => r.EventsScored));
        Assert.Equal([1L, 2, 3, 4, 5, 6, 7, 8], reports.Select(r => r.Sequence));
        Assert.All(reports, r => Assert.Equal(Bad.ManifestDigest, r.ManifestDigest));
    }

    [Fact]
    public void Add_VersionWithItsOwnLatency_ReportsPercentilesAroundIt()
    {
        var options = SimulatorOptionsTests.Usable();
        options.Versions["m:3"] = new VersionBehaviour(LatencyMs: 40);
        var telemetry = new DeviceTelemetry(options, new Random(1));

        var slow = telemetry.Add(Bad, TimeSpan.FromSeconds(10), Start);
        var fast = telemetry.Add(Good, TimeSpan.FromSeconds(10), Start);

        Assert.InRange(slow.LatencyP50Ms, 38, 42);
        Assert.InRange(slow.LatencyP99Ms / slow.LatencyP50Ms, 2.19, 2.21);
        Assert.InRange(fast.LatencyP50Ms, options.LatencyMs * 0.95, options.LatencyMs * 1.05);
    }

    [Fact]
    public void Add_NoActiveModel_ReportsAHeartbeatWithoutEvents()
    {
        var telemetry = new DeviceTelemetry(SimulatorOptionsTests.Usable(), new Random(1));

        var report = telemetry.Add(null, TimeSpan.FromSeconds(10), Start);

        Assert.Equal((0L, 0L, (string?)null), (report.EventsIn, report.Errors, report.ModelName));
    }

    [Fact]
    public void Add_MoreThanFitWhileOffline_ShedsTheOldestAndCountsThem()
    {
        var telemetry = new DeviceTelemetry(SimulatorOptionsTests.Usable(), new Random(1));

        for (var i = 0; i < DeviceTelemetry.MaxPending + 5; i++)
        {
            telemetry.Add(Good, TimeSpan.FromSeconds(1), Start.AddSeconds(i));
        }

        var oldest = telemetry.Peek();
        Assert.Equal(DeviceTelemetry.MaxPending, telemetry.Pending);
        Assert.Equal(6, oldest[0].Sequence);
        Assert.Equal(DeviceTelemetry.MaxBatch, oldest.Count);
        Assert.Equal(5, telemetry.Add(Good, TimeSpan.FromSeconds(1), Start).ReportsShed);
    }

    [Fact]
    public void Acknowledge_ABatch_RemovesOnlyWhatWasAcknowledged()
    {
        var telemetry = new DeviceTelemetry(SimulatorOptionsTests.Usable(), new Random(1));
        for (var i = 0; i < 150; i++)
        {
            telemetry.Add(Good, TimeSpan.FromSeconds(1), Start.AddSeconds(i));
        }

        var batch = telemetry.Peek();
        telemetry.Acknowledge(batch[^1].Sequence);

        Assert.Equal(50, telemetry.Pending);
        Assert.Equal(101, telemetry.Peek()[0].Sequence);
    }
}
