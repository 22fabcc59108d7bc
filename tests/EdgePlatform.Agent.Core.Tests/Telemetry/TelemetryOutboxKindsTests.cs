using System.Text.Json;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Core.Telemetry;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NSubstitute;

namespace EdgePlatform.Agent.Core.Tests.Telemetry;

/// <summary>The outbox with health, perf and quality reports in one spool, and spools an older agent left behind.</summary>
public sealed class TelemetryOutboxKindsTests : IDisposable
{
    private const string Device = "dev-1";
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly TempDirectory _directory = new();
    private readonly ICloudLink _link = Substitute.For<ICloudLink>();
    private readonly List<(string Kind, long Sequence)> _delivered = [];
    private readonly HashSet<string> _failing = [];

    public TelemetryOutboxKindsTests()
    {
        _link.IsConnected.Returns(true);
        _link.PublishTelemetryAsync(Arg.Any<string>(), Arg.Any<ReadOnlyMemory<byte>>(), Arg.Any<CancellationToken>())
            .Returns(call =>
            {
                var kind = call.ArgAt<string>(0);
                if (_failing.Contains(kind))
                {
                    return Task.FromException(new IOException($"publish of {kind} not acknowledged"));
                }

                var payload = call.ArgAt<ReadOnlyMemory<byte>>(1);
                IEnumerable<long> sequences = kind switch
                {
                    TelemetryKinds.Health => TelemetryArrow.Deserialize(payload).Records.Select(r => r.Sequence),
                    TelemetryKinds.Perf => PerfArrow.Deserialize(payload).Records.Select(r => r.Sequence),
                    TelemetryKinds.Quality => QualityArrow.Deserialize(payload).Records.Select(r => r.Sequence),
                    _ => throw new InvalidOperationException($"unknown kind {kind}"),
                };
                _delivered.AddRange(sequences.Select(s => (kind, s)));
                return Task.CompletedTask;
            });
    }

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task SendNextBatchAsync_MixedKinds_PublishesOneMessagePerKindOnItsTopicWithEveryRecordItsOwnSequence()
    {
        using var outbox = Open();
        AddInterval(outbox, arms: [Arms.Control, Arms.Candidate]);

        var sent = await outbox.SendNextBatchAsync(_link, Device, 100, CancellationToken.None);

        Assert.Equal(5, sent);
        await _link.Received(1).PublishTelemetryAsync(TelemetryKinds.Health, Arg.Any<ReadOnlyMemory<byte>>(), Arg.Any<CancellationToken>());
        await _link.Received(1).PublishTelemetryAsync(TelemetryKinds.Perf, Arg.Any<ReadOnlyMemory<byte>>(), Arg.Any<CancellationToken>());
        await _link.Received(1).PublishTelemetryAsync(TelemetryKinds.Quality, Arg.Any<ReadOnlyMemory<byte>>(), Arg.Any<CancellationToken>());
        Assert.Equal(
            [(TelemetryKinds.Health, 1L), (TelemetryKinds.Perf, 2L), (TelemetryKinds.Perf, 4L), (TelemetryKinds.Quality, 3L), (TelemetryKinds.Quality, 5L)],
            _delivered);
        Assert.Equal(0, outbox.Depth);
    }

    [Fact]
    public async Task SendNextBatchAsync_OneKindNotAcknowledged_AcknowledgesNothingAndResendsEverySequenceLater()
    {
        using var outbox = Open();
        AddInterval(outbox, arms: [Arms.Control, Arms.Candidate]);
        AddInterval(outbox, arms: [Arms.Control]);
        _failing.Add(TelemetryKinds.Perf);

        var failed = await outbox.SendNextBatchAsync(_link, Device, 100, CancellationToken.None);
        var depthAfterFailure = outbox.Depth;
        _failing.Clear();
        while (await outbox.SendNextBatchAsync(_link, Device, 100, CancellationToken.None) > 0)
        {
        }

        Assert.Equal(0, failed);
        Assert.Equal(8, depthAfterFailure);
        Assert.Equal(0, outbox.Depth);
        // Health went up twice (once before the perf publish failed); the cloud keeps each sequence once.
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), _delivered.Select(d => d.Sequence).Distinct().Order());
        Assert.Equal(2, _delivered.Count(d => d.Sequence == 1));
        Assert.All(_delivered.Where(d => d.Kind == TelemetryKinds.Perf), d => Assert.Single(_delivered, e => e == d));
    }

    [Fact]
    public async Task SendNextBatchAsync_SpoolOfAnOlderAgent_SendsItsBareReportsAsHealthBeforeTheNewKinds()
    {
        var spoolDirectory = Path.Combine(_directory.Path, TelemetryOutbox.DirectoryName);
        using (var older = DiskSpool.Open(spoolDirectory, 1024 * 1024, ShedPolicy.DropOldest))
        {
            // What agents before kinds spooled: a bare health record whose sequence is the entry id.
            for (var i = 0; i < 2; i++)
            {
                older.Append(id => JsonSerializer.SerializeToUtf8Bytes(Health() with { Sequence = id, EventsIn = 100 + id }, ContractsJsonContext.Default.TelemetryRecord));
            }
        }

        using var outbox = Open();
        AddInterval(outbox, arms: [Arms.Control]);
        var health = new List<TelemetryRecord>();
        _link.PublishTelemetryAsync(TelemetryKinds.Health, Arg.Any<ReadOnlyMemory<byte>>(), Arg.Any<CancellationToken>())
            .Returns(call =>
            {
                health.AddRange(TelemetryArrow.Deserialize(call.ArgAt<ReadOnlyMemory<byte>>(1)).Records);
                return Task.CompletedTask;
            });

        await outbox.SendNextBatchAsync(_link, Device, 100, CancellationToken.None);

        Assert.Equal([1L, 2L, 3L], health.Select(r => r.Sequence));
        Assert.Equal([101L, 102L], health.Take(2).Select(r => r.EventsIn));
        Assert.Equal([(TelemetryKinds.Perf, 4L), (TelemetryKinds.Quality, 5L)], _delivered);
        Assert.Equal(0, outbox.Depth);
    }

    [Fact]
    public async Task Open_AfterRestart_NewKindsContinueTheOneSequence()
    {
        using (var outbox = Open())
        {
            AddInterval(outbox, arms: [Arms.Control]);
        }

        using var restarted = Open();
        AddInterval(restarted, arms: [Arms.Control]);
        while (await restarted.SendNextBatchAsync(_link, Device, 2, CancellationToken.None) > 0)
        {
        }

        Assert.Equal(Enumerable.Range(1, 6).Select(i => (long)i), _delivered.Select(d => d.Sequence).Order());
    }

    [Fact]
    public async Task Add_ReportLargerThanASpoolSegment_IsRefusedAndTheOthersKeepTheirSequence()
    {
        using var outbox = Open(maxBytes: DiskSpool.MinimumBytes);
        var features = Enumerable.Range(0, 2_000).ToList();
        var wide = Quality(Arms.Control) with
        {
            FeatureNames = [.. features.Select(f => $"feature_{f}")],
            FeatureCount = [.. features.Select(_ => 1L)],
            FeatureMean = [.. features.Select(_ => 1.0)],
            FeatureVariance = [.. features.Select(_ => 0.0)],
            FeatureMin = [.. features.Select(_ => 1.0)],
            FeatureMax = [.. features.Select(_ => 1.0)],
            FeaturePsi = [.. features.Select(_ => (double?)null)],
            FeatureDecileCounts = new long[features.Count * QualityRecord.DriftBins],
        };

        Assert.True(outbox.Add(Health()));
        Assert.False(outbox.Add(wide));
        Assert.True(outbox.Add(Perf(Arms.Control)));
        await outbox.SendNextBatchAsync(_link, Device, 100, CancellationToken.None);

        Assert.Equal([(TelemetryKinds.Health, 1L), (TelemetryKinds.Perf, 2L)], _delivered);
    }

    private static void AddInterval(TelemetryOutbox outbox, IReadOnlyList<string> arms)
    {
        outbox.Add(Health());
        foreach (var arm in arms)
        {
            outbox.Add(Perf(arm));
            outbox.Add(Quality(arm));
        }
    }

    private TelemetryOutbox Open(long maxBytes = 1024 * 1024) =>
        new(
            Options.Create(new TelemetryOptions { SpoolMaxBytes = maxBytes, ShedPolicy = ShedPolicy.DropOldest }),
            Options.Create(new AgentOptions { DataDirectory = _directory.Path }),
            NullLogger<TelemetryOutbox>.Instance);

    private static TelemetryRecord Health() => new(0, Start, "m", "1", null, 10, 10, 0, 0, 1, 2, 3, 4, 5);

    private static PerfRecord Perf(string arm) =>
        new(0, Start, 10_000, "m", "1", "sha256:" + new string('a', 64), arm, 10, 10, 0, 0, 0, 1, 2, 3, 4, 1.5, ReadOnlyMemory<byte>.Empty, 1, 10, 10, [0, 0, 0, 0, 1]);

    private static QualityRecord Quality(string arm) =>
        new(0, Start, "m", "1", "sha256:" + new string('a', 64), arm, 10, 0.2, [0, 0.5, 1], [8, 2], ["x"], [1], [2.0], [0.0], [2.0], [2.0], [null], new long[10], null, 0, 0, 0, 0, 0, 0, 0, 0);
}
