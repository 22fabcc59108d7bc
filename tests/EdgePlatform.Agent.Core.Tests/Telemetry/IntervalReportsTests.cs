using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Core.Reconciliation;
using EdgePlatform.Agent.Core.Telemetry;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NSubstitute;

namespace EdgePlatform.Agent.Core.Tests.Telemetry;

/// <summary>One interval turned into spooled reports, as they reach the cloud.</summary>
public sealed class IntervalReportsTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);
    private static readonly ModelReference Active = new("models/sensor-anomaly", "sensor-anomaly", "3", "sha256:" + new string('e', 64), 1234, "c2ln");

    private readonly TempDirectory _directory = new();
    private readonly ScoringMetrics _metrics = new();
    private readonly ICloudLink _link = Substitute.For<ICloudLink>();
    private readonly List<TelemetryRecord> _health = [];
    private readonly List<PerfRecord> _perf = [];
    private readonly List<QualityRecord> _quality = [];

    public IntervalReportsTests()
    {
        _link.IsConnected.Returns(true);
        _link.PublishTelemetryAsync(Arg.Any<string>(), Arg.Any<ReadOnlyMemory<byte>>(), Arg.Any<CancellationToken>())
            .Returns(call =>
            {
                var payload = call.ArgAt<ReadOnlyMemory<byte>>(1);
                switch (call.ArgAt<string>(0))
                {
                    case TelemetryKinds.Health:
                        _health.AddRange(TelemetryArrow.Deserialize(payload).Records);
                        break;
                    case TelemetryKinds.Perf:
                        _perf.AddRange(PerfArrow.Deserialize(payload).Records);
                        break;
                    default:
                        _quality.AddRange(QualityArrow.Deserialize(payload).Records);
                        break;
                }

                return Task.CompletedTask;
            });
    }

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Spool_IntervalWithTwoArms_OneHealthThenPerfAndQualityPerArmEachWithItsOwnSequence()
    {
        using var outbox = Outbox();
        var reports = new IntervalReports(_metrics, outbox, AgentOptions(), NullLogger<IntervalReports>.Instance);
        Score(Arms.Control, 7);
        Score(Arms.Candidate, 3);
        _metrics.RecordReceived();
        _metrics.RecordDropped();
        _metrics.RecordFeedbackUnmatched();

        var kept = reports.Spool(new DeviceSample(Now, TimeSpan.FromSeconds(10), 12.346, 150_000_000, Active, AttestationStates.Verified, 10));
        await outbox.SendNextBatchAsync(_link, "dev-1", 100, CancellationToken.None);

        Assert.Equal(5, kept);
        var health = Assert.Single(_health);
        Assert.Equal(1, health.Sequence);
        Assert.Equal(("sensor-anomaly", "3", Active.ManifestDigest), (health.ModelName, health.ModelVersion, health.ManifestDigest));
        Assert.Equal((1L, 1L, 1L, 1L), (health.EventsIn, health.Errors, health.EventsDropped, health.FeedbackUnmatched));
        Assert.Equal((12.35, 150_000_000L), (health.CpuPercent, health.MemoryBytes));
        Assert.Equal((AttestationStates.Verified, 10, Reconciler.AgentVersion), (health.AttestationState, health.HeartbeatSeconds, health.AgentVersion));
        var drive = new DriveInfo(_directory.Path);
        Assert.Equal(drive.TotalSize, health.DiskTotalBytes);
        Assert.InRange(health.DiskFreeBytes, 1, health.DiskTotalBytes);
        Assert.Equal([2L, 3L, 4L, 5L], _perf.Select(p => p.Sequence).Concat(_quality.Select(q => q.Sequence)).Order());
        Assert.Equal(7, _perf.Single(p => p.Arm == Arms.Control).EventsScored);
        Assert.Equal(3, _perf.Single(p => p.Arm == Arms.Candidate).EventsScored);
        Assert.All(_perf, p => Assert.Equal(10_000, p.IntervalMs));
        Assert.Equal(3, _quality.Single(q => q.Arm == Arms.Candidate).Scores);
    }

    [Fact]
    public async Task Spool_IntervalWithoutEvents_OnlyTheHealthReport()
    {
        using var outbox = Outbox();
        var reports = new IntervalReports(_metrics, outbox, AgentOptions(), NullLogger<IntervalReports>.Instance);

        var kept = reports.Spool(new DeviceSample(Now, TimeSpan.FromSeconds(10), 0, 1, null, AttestationStates.Pending, 10));
        await outbox.SendNextBatchAsync(_link, "dev-1", 100, CancellationToken.None);

        Assert.Equal(1, kept);
        var health = Assert.Single(_health);
        Assert.Equal((null, AttestationStates.Pending), (health.ModelName, health.AttestationState));
        Assert.Empty(_perf);
        Assert.Empty(_quality);
    }

    private void Score(string arm, int rows)
    {
        var key = new ModelArmKey("sensor-anomaly", arm == Arms.Control ? "3" : "4", Active.ManifestDigest, arm);
        var metrics = _metrics.ForModel(key, () => ModelArmMetricsTests.Classifier("x"));
        metrics.TryRecordRun([.. Enumerable.Repeat(TimeSpan.FromMilliseconds(2), rows)], [.. Enumerable.Repeat(0.25, rows)], new float[rows]);
    }

    private IOptions<AgentOptions> AgentOptions() => Options.Create(new AgentOptions { DataDirectory = _directory.Path });

    private TelemetryOutbox Outbox() =>
        new(Options.Create(new TelemetryOptions()), AgentOptions(), NullLogger<TelemetryOutbox>.Instance);
}
