using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Core.Telemetry;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NSubstitute;
using NSubstitute.ExceptionExtensions;

namespace EdgePlatform.Agent.Core.Tests.Telemetry;

public sealed class TelemetryOutboxTests : IDisposable
{
    private const string Device = "dev-1";
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly TempDirectory _directory = new();
    private readonly ICloudLink _link = Substitute.For<ICloudLink>();
    private readonly List<TelemetryRecord> _delivered = [];

    public TelemetryOutboxTests()
    {
        _link.IsConnected.Returns(true);
        _link.PublishTelemetryAsync(TelemetryKinds.Health, Arg.Any<ReadOnlyMemory<byte>>(), Arg.Any<CancellationToken>())
            .Returns(call =>
            {
                _delivered.AddRange(TelemetryArrow.Deserialize(call.ArgAt<ReadOnlyMemory<byte>>(1)).Records);
                return Task.CompletedTask;
            });
    }

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task SendNextBatchAsync_Backlog_SendsOldestFirstInBatchesOfAtMostTheLimit()
    {
        using var outbox = Open();
        for (var i = 1; i <= 7; i++)
        {
            outbox.Add(Report(i));
        }

        var sent = new List<int>();
        int count;
        while ((count = await outbox.SendNextBatchAsync(_link, Device, 3, CancellationToken.None)) > 0)
        {
            sent.Add(count);
        }

        Assert.Equal([3, 3, 1], sent);
        Assert.Equal(Enumerable.Range(1, 7).Select(i => (long)i), _delivered.Select(r => r.Sequence));
        Assert.Equal(0, outbox.Depth);
    }

    [Fact]
    public async Task SendNextBatchAsync_LinkDown_SendsNothingAndKeepsEveryReport()
    {
        using var outbox = Open();
        outbox.Add(Report(1));
        _link.IsConnected.Returns(false);

        var sent = await outbox.SendNextBatchAsync(_link, Device, 10, CancellationToken.None);

        Assert.Equal(0, sent);
        Assert.Equal(1, outbox.Depth);
        await _link.DidNotReceiveWithAnyArgs().PublishTelemetryAsync(default!, default, default);
    }

    [Fact]
    public async Task SendNextBatchAsync_BrokerDidNotAcknowledge_KeepsTheBatchAndResendsTheSameSequences()
    {
        using var outbox = Open();
        outbox.Add(Report(1));
        outbox.Add(Report(2));
        _link.PublishTelemetryAsync(TelemetryKinds.Health, Arg.Any<ReadOnlyMemory<byte>>(), Arg.Any<CancellationToken>())
            .Returns(Task.FromException(new IOException("connection reset")), Task.CompletedTask);

        var failed = await outbox.SendNextBatchAsync(_link, Device, 10, CancellationToken.None);
        var depthAfterFailure = outbox.Depth;
        var retried = await outbox.SendNextBatchAsync(_link, Device, 10, CancellationToken.None);

        Assert.Equal(0, failed);
        Assert.Equal(2, depthAfterFailure);
        Assert.Equal(2, retried);
        Assert.Equal(0, outbox.Depth);
    }

    [Fact]
    public async Task Open_AfterCrashBetweenPublishAndAcknowledgement_ResendsOnlyUnacknowledgedReports()
    {
        using (var outbox = Open())
        {
            for (var i = 1; i <= 4; i++)
            {
                outbox.Add(Report(i));
            }

            await outbox.SendNextBatchAsync(_link, Device, 2, CancellationToken.None);
        }

        // The process dies while the broker holds the next publish: nothing acknowledged it.
        _link.PublishTelemetryAsync(TelemetryKinds.Health, Arg.Any<ReadOnlyMemory<byte>>(), Arg.Any<CancellationToken>())
            .Throws(new OperationCanceledException());
        using (var outbox = Open())
        {
            await Assert.ThrowsAsync<OperationCanceledException>(() => outbox.SendNextBatchAsync(_link, Device, 2, CancellationToken.None));
        }

        _link.PublishTelemetryAsync(TelemetryKinds.Health, Arg.Any<ReadOnlyMemory<byte>>(), Arg.Any<CancellationToken>())
            .Returns(call =>
            {
                _delivered.AddRange(TelemetryArrow.Deserialize(call.ArgAt<ReadOnlyMemory<byte>>(1)).Records);
                return Task.CompletedTask;
            });
        using var restarted = Open();
        while (await restarted.SendNextBatchAsync(_link, Device, 10, CancellationToken.None) > 0)
        {
        }

        Assert.Equal([1L, 2L, 3L, 4L], _delivered.Select(r => r.Sequence));
        Assert.Equal(Enumerable.Range(1, 4).Sum(i => 10L * i), _delivered.Sum(r => r.EventsIn));
    }

    [Fact]
    public async Task Add_PastTheBound_ShedCountReachesTheCloudInTheNextDeliveredReport()
    {
        using var outbox = Open(maxBytes: DiskSpool.MinimumBytes);
        _link.IsConnected.Returns(false);
        const int Reports = 1000;
        for (var i = 1; i <= Reports; i++)
        {
            outbox.Add(Report(i));
        }

        var waiting = outbox.Depth;
        var shed = outbox.ShedTotal;
        outbox.Add(Report(Reports + 1));
        _link.IsConnected.Returns(true);
        while (await outbox.SendNextBatchAsync(_link, Device, 100, CancellationToken.None) > 0)
        {
        }

        Assert.True(shed > 0, "the bound must have been reached");
        Assert.Equal(Reports, waiting + shed);
        Assert.Equal(shed + waiting + 1, _delivered.Count + outbox.ShedTotal);
        Assert.Equal(outbox.ShedTotal, _delivered[^1].ReportsShed);

        // The cloud can tell exactly which reports were lost: delivered ∪ shed = every sequence.
        Assert.Equal(Reports + 1 - _delivered.Count, outbox.ShedTotal);
    }

    [Fact]
    public async Task Add_AfterRestart_SequencesContinueWithoutGapOrReuse()
    {
        using (var outbox = Open())
        {
            outbox.Add(Report(0));
            outbox.Add(Report(0));
            await outbox.SendNextBatchAsync(_link, Device, 10, CancellationToken.None);
        }

        using var restarted = Open();
        restarted.Add(Report(0));
        await restarted.SendNextBatchAsync(_link, Device, 10, CancellationToken.None);

        Assert.Equal([1L, 2L, 3L], _delivered.Select(r => r.Sequence));
    }

    [Fact]
    public async Task Add_DeviceThatKeptItsSequenceInTheOldFile_ContinuesFromIt()
    {
        await File.WriteAllTextAsync(Path.Combine(_directory.Path, "telemetry.seq"), "41");
        using var outbox = Open();

        outbox.Add(Report(0));
        await outbox.SendNextBatchAsync(_link, Device, 10, CancellationToken.None);

        Assert.Equal(41, Assert.Single(_delivered).Sequence);
    }

    [Fact]
    public async Task Add_StampsEachReportWithTheSpoolDepthWhenItWasMade()
    {
        using var outbox = Open();
        outbox.Add(Report(1));
        outbox.Add(Report(2));
        outbox.Add(Report(3));

        await outbox.SendNextBatchAsync(_link, Device, 10, CancellationToken.None);

        Assert.Equal([0L, 1L, 2L], _delivered.Select(r => r.QueueDepth));
        Assert.Equal(0, _delivered[0].QueueBytes);
        Assert.True(_delivered[2].QueueBytes > _delivered[1].QueueBytes);
    }

    private TelemetryOutbox Open(long maxBytes = 1024 * 1024) =>
        new(
            Options.Create(new TelemetryOptions { SpoolMaxBytes = maxBytes, ShedPolicy = ShedPolicy.DropOldest }),
            Options.Create(new AgentOptions { DataDirectory = _directory.Path }),
            NullLogger<TelemetryOutbox>.Instance);

    private static TelemetryRecord Report(long sequence) =>
        new(sequence, Start.AddSeconds(sequence), "m", "1", null, 10 * sequence, 10 * sequence, 0, 0, 1, 2, 3, 4, 5);
}
