using System.Text;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Telemetry;
using EdgePlatform.ControlPlane.Tests.Fakes;
using EdgePlatform.ControlPlane.Tests.Telemetry;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.Logging.Abstractions;
using NSubstitute;

namespace EdgePlatform.ControlPlane.Tests.Devices;

public sealed class DeviceMessageRouterTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly InMemoryStore _store = new();
    private readonly TelemetryIngestService _telemetry;
    private readonly DeviceMessageRouter _router;

    public DeviceMessageRouterTests()
    {
        _store.AddDevice("dev-1");
        _telemetry = new TelemetryIngestService(_store, _store, new TelemetryMetrics(new TestMeterFactory()), _time, NullLogger<TelemetryIngestService>.Instance);
        _router = new DeviceMessageRouter(new FleetService(_store, Substitute.For<IDeviceSessions>(), Microsoft.Extensions.Options.Options.Create(new EnrollmentOptions()), _time, NullLogger<FleetService>.Instance), _telemetry, Microsoft.Extensions.Options.Options.Create(new TelemetryStoreOptions()), _time, NullLogger<DeviceMessageRouter>.Instance);
    }

    [Fact]
    public async Task RouteAsync_TelemetryTopic_IngestsUnderTheTopicsKind()
    {
        await _router.RouteAsync("devices/dev-1/telemetry/health", TelemetryIngestServiceTests.Batch("dev-1", 5), CancellationToken.None);
        await _router.RouteAsync("devices/dev-1/telemetry/quality", TelemetryIngestServiceTests.Batch("dev-1", 6), CancellationToken.None);

        // A health batch on the quality topic is not Arrow of the quality schema.
        Assert.Equal(TelemetryKinds.Health, _store.Telemetry[("dev-1", 5)].Kind);
        Assert.False(_store.Telemetry.ContainsKey(("dev-1", 6)));
        Assert.Equal(1, _store.Rejections[("dev-1", TelemetryRejections.Malformed)]);
    }

    [Fact]
    public async Task RouteAsync_StatusTopic_UpdatesTheDevice()
    {
        await _router.RouteAsync("devices/dev-1/status", Encoding.UTF8.GetBytes(DeviceStatuses.Offline), CancellationToken.None);

        Assert.Equal(DeviceStatuses.Offline, (await _store.GetDeviceAsync("dev-1", CancellationToken.None))!.Status);
    }

    [Fact]
    public async Task ExecuteAsync_TelemetryAroundAStatusMessage_AcknowledgesEachInArrivalOrderOnlyOnceStored()
    {
        var acknowledged = new List<(string Topic, bool Stored)>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        DeviceMessage Message(string topic, byte[] payload, long? sequence) => new(topic, payload, _ =>
        {
            lock (acknowledged)
            {
                acknowledged.Add((topic, sequence is not { } s || _store.Telemetry.ContainsKey(("dev-1", s))));
                if (acknowledged.Count == 3)
                {
                    all.TrySetResult();
                }
            }

            return Task.FromResult(true);
        });

        // Queued before the writer starts, so it takes all three at once.
        await _router.EnqueueAsync(Message("devices/dev-1/telemetry/health", TelemetryIngestServiceTests.Batch("dev-1", 1), 1), CancellationToken.None);
        await _router.EnqueueAsync(Message("devices/dev-1/status", Encoding.UTF8.GetBytes(DeviceStatuses.Online), null), CancellationToken.None);
        await _router.EnqueueAsync(Message("devices/dev-1/telemetry/health", TelemetryIngestServiceTests.Batch("dev-1", 2), 2), CancellationToken.None);
        await _router.StartAsync(CancellationToken.None);
        await all.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await _router.StopAsync(CancellationToken.None);

        Assert.Equal(
            [("devices/dev-1/telemetry/health", true), ("devices/dev-1/status", true), ("devices/dev-1/telemetry/health", true)],
            acknowledged);
        Assert.Equal(DeviceStatuses.Online, (await _store.GetDeviceAsync("dev-1", CancellationToken.None))!.Status);
    }

    [Fact]
    public async Task ExecuteAsync_StoreFailsOnce_AcknowledgesOnlyAfterTheRetryStoredIt()
    {
        var store = new FailingOnceStore(_store);
        var telemetry = new TelemetryIngestService(_store, store, new TelemetryMetrics(new TestMeterFactory()), _time, NullLogger<TelemetryIngestService>.Instance);
        using var router = new DeviceMessageRouter(
            new FleetService(_store, Substitute.For<IDeviceSessions>(), Microsoft.Extensions.Options.Options.Create(new EnrollmentOptions()), _time, NullLogger<FleetService>.Instance),
            telemetry,
            Microsoft.Extensions.Options.Options.Create(new TelemetryStoreOptions()),
            TimeProvider.System,
            NullLogger<DeviceMessageRouter>.Instance);
        var acknowledged = new TaskCompletionSource<(int Attempts, bool Stored)>(TaskCreationOptions.RunContinuationsAsynchronously);

        await router.EnqueueAsync(
            new DeviceMessage("devices/dev-1/telemetry/health", TelemetryIngestServiceTests.Batch("dev-1", 7), _ =>
            {
                acknowledged.TrySetResult((store.Attempts, _store.Telemetry.ContainsKey(("dev-1", 7))));
                return Task.FromResult(true);
            }),
            CancellationToken.None);
        await router.StartAsync(CancellationToken.None);
        var (attempts, stored) = await acknowledged.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await router.StopAsync(CancellationToken.None);

        Assert.Equal((2, true), (attempts, stored));
        Assert.Single(_store.Telemetry);
    }

    [Fact]
    public async Task StopAsync_MessagesStillQueued_StoresThemBeforeItEnds()
    {
        var acknowledgements = 0;
        for (var sequence = 1; sequence <= 50; sequence++)
        {
            await _router.EnqueueAsync(
                new DeviceMessage("devices/dev-1/telemetry/health", TelemetryIngestServiceTests.Batch("dev-1", sequence), _ => Task.FromResult(Interlocked.Increment(ref acknowledgements) > 0)),
                CancellationToken.None);
        }

        await _router.StartAsync(CancellationToken.None);
        await _router.StopAsync(CancellationToken.None);

        Assert.Equal(50, _store.Telemetry.Count);
        Assert.Equal(50, acknowledgements);
        await Assert.ThrowsAsync<System.Threading.Channels.ChannelClosedException>(
            () => _router.EnqueueAsync(new DeviceMessage("devices/dev-1/status", Array.Empty<byte>(), _ => Task.FromResult(true)), CancellationToken.None).AsTask());
    }

    [Theory]
    [InlineData("devices/DEV-1/status")]
    [InlineData("devices/dev-1/twin/desired")]
    [InlineData("events/dev-1/status")]
    [InlineData("devices/dev-1")]
    public async Task RouteAsync_TopicWithoutHandler_ChangesNothing(string topic)
    {
        await _router.RouteAsync(topic, Encoding.UTF8.GetBytes(DeviceStatuses.Online), CancellationToken.None);

        Assert.Equal(DeviceStatuses.NeverConnected, (await _store.GetDeviceAsync("dev-1", CancellationToken.None))!.Status);
        Assert.Equal(0, _telemetry.Rejected);
    }

    public void Dispose() => _router.Dispose();
}

/// <summary>A store whose first write fails, as a full disk or a locked database would make it.</summary>
internal sealed class FailingOnceStore(InMemoryStore inner) : ITelemetryStore
{
    private int _attempts;

    public int Attempts => Volatile.Read(ref _attempts);

    public Task<IReadOnlyList<StoredTelemetry>> WriteTelemetryAsync(TelemetryWrite write, CancellationToken cancellationToken) =>
        Interlocked.Increment(ref _attempts) == 1
            ? throw new InvalidOperationException("database or disk is full")
            : inner.WriteTelemetryAsync(write, cancellationToken);

    public Task<IReadOnlyList<DeviceTelemetrySummary>> SummarizeAsync(string? deviceId, CancellationToken cancellationToken) => inner.SummarizeAsync(deviceId, cancellationToken);

    public Task<IReadOnlyList<TelemetryRejectionCount>> ListRejectionsAsync(CancellationToken cancellationToken) => inner.ListRejectionsAsync(cancellationToken);

    public Task<IReadOnlyList<TelemetryPoint>> QueryRawAsync(TelemetryFilter filter, CancellationToken cancellationToken) => inner.QueryRawAsync(filter, cancellationToken);

    public Task<IReadOnlyList<TelemetryMinute>> QueryMinutesAsync(TelemetryFilter filter, CancellationToken cancellationToken) => inner.QueryMinutesAsync(filter, cancellationToken);

    public Task<IReadOnlyList<(string DeviceId, PerfRecord Record)>> QueryPerfAsync(TelemetryFilter filter, CancellationToken cancellationToken) => inner.QueryPerfAsync(filter, cancellationToken);

    public Task<IReadOnlyList<PerfMinute>> QueryPerfMinutesAsync(TelemetryFilter filter, CancellationToken cancellationToken) => inner.QueryPerfMinutesAsync(filter, cancellationToken);

    public Task<IReadOnlyList<QualityMinute>> QueryQualityMinutesAsync(TelemetryFilter filter, CancellationToken cancellationToken) => inner.QueryQualityMinutesAsync(filter, cancellationToken);

    public Task<IReadOnlyList<(string DeviceId, QualityRecord Record)>> QueryQualityAsync(TelemetryFilter filter, CancellationToken cancellationToken) => inner.QueryQualityAsync(filter, cancellationToken);

    public Task<IReadOnlyList<TelemetryWindowTotal>> SummarizeWindowAsync(IReadOnlyCollection<string> deviceIds, DateTimeOffset windowStart, DateTimeOffset windowEnd, CancellationToken cancellationToken) =>
        inner.SummarizeWindowAsync(deviceIds, windowStart, windowEnd, cancellationToken);

    public Task<long> PruneTelemetryAsync(DateTimeOffset rawBefore, DateTimeOffset rollupsBefore, CancellationToken cancellationToken) => inner.PruneTelemetryAsync(rawBefore, rollupsBefore, cancellationToken);
}
