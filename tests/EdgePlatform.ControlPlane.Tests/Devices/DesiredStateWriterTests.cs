using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Tests.Fakes;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgePlatform.ControlPlane.Tests.Devices;

public sealed class DesiredStateWriterTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly InMemoryStore _store = new();

    [Fact]
    public async Task WriteAsync_NewerVersionPublishedWhileThisOneWasOnItsWay_RepublishesTheNewerOne()
    {
        _store.AddDevice("dev-1");
        var broker = new GatedBroker();
        using var slow = new DesiredStateWriter(_store, broker, NullLogger<DesiredStateWriter>.Instance);
        using var fast = new DesiredStateWriter(_store, broker, NullLogger<DesiredStateWriter>.Instance);
        broker.HoldNext();

        // The first replica stores version 1, then its publish stalls; the second stores and publishes 2.
        var first = slow.WriteAsync("dev-1", Deployment("dep-a"), TelemetrySettings.Default, CancellationToken.None);
        Assert.True(await broker.Held.WaitAsync(Patience));
        var second = await fast.WriteAsync("dev-1", Deployment("dep-b"), TelemetrySettings.Default, CancellationToken.None);
        broker.Release();
        var written = await first.WaitAsync(Patience);

        Assert.Equal(1, written!.Value.Desired.Version);
        Assert.Equal(2, second!.Value.Desired.Version);
        Assert.Equal([2, 1, 2], broker.Published.Select(d => d.Version));
        Assert.Equal(2, broker.Retained!.Version);
        Assert.Equal("dep-b", broker.Retained.Deployment!.DeploymentId);
    }

    [Fact]
    public async Task WriteAsync_StoreRefusesEveryCompareAndSet_ThrowsConflictAndPublishesNothing()
    {
        var broker = new GatedBroker();
        using var writer = new DesiredStateWriter(new RacedStore(_store), broker, NullLogger<DesiredStateWriter>.Instance);
        _store.AddDevice("dev-1");

        var conflict = await Assert.ThrowsAsync<ConflictException>(
            () => writer.WriteAsync("dev-1", Deployment("dep-a"), TelemetrySettings.Default, CancellationToken.None));

        Assert.Contains("dev-1", conflict.Message, StringComparison.Ordinal);
        Assert.Empty(broker.Published);
    }

    [Fact]
    public async Task WriteAsync_AnotherWriterGetsInBetweenReadAndWrite_WritesOnTopOfItsVersion()
    {
        _store.AddDevice("dev-1");
        var broker = new GatedBroker();
        var raced = new RacedStore(_store, racesLeft: 3);
        using var writer = new DesiredStateWriter(raced, broker, NullLogger<DesiredStateWriter>.Instance);

        var written = await writer.WriteAsync("dev-1", Deployment("dep-a"), TelemetrySettings.Default, CancellationToken.None);

        // Three other writes landed first (versions 1 to 3); this one is version 4, on top of the third.
        Assert.Equal(4, written!.Value.Desired.Version);
        Assert.Equal("3", written.Value.Previous!.Version);
        Assert.Equal(4, (await _store.GetDeviceAsync("dev-1", CancellationToken.None))!.Desired!.Version);
        Assert.Equal(4, broker.Retained!.Version);
    }

    private static DeploymentSpec Deployment(string id, string version = "1") =>
        new(id, new ModelReference("models/m", "m", version, "sha256:" + new string('1', 64), 10, "c2ln"));

    /// <summary>A broker that keeps the last publish retained and can hold one publish until released.</summary>
    private sealed class GatedBroker : IDeviceLink
    {
        private readonly List<DesiredState> _published = [];
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _holdNext;

        public SemaphoreSlim Held { get; } = new(0);

        public IReadOnlyList<DesiredState> Published
        {
            get
            {
                lock (_published)
                {
                    return [.. _published];
                }
            }
        }

        public DesiredState? Retained => Published is [.., var last] ? last : null;

        public void HoldNext() => _holdNext = 1;

        public void Release() => _released.TrySetResult();

        public async Task PublishDesiredAsync(string deviceId, DesiredState desired, CancellationToken cancellationToken)
        {
            if (Interlocked.Exchange(ref _holdNext, 0) == 1)
            {
                Held.Release();
                await _released.Task.WaitAsync(cancellationToken);
            }

            lock (_published)
            {
                _published.Add(desired);
            }
        }
    }

    /// <summary>
    /// The store as another replica would leave it: just before each of the first
    /// <c>racesLeft</c> compare-and-sets, another writer stores the next version, naming model
    /// version "N" in desired version N.
    /// </summary>
    private sealed class RacedStore(InMemoryStore inner, int racesLeft = int.MaxValue) : IDeviceStore
    {
        private int _racesLeft = racesLeft;

        public Task<DeviceRecord?> GetDeviceAsync(string deviceId, CancellationToken cancellationToken) => inner.GetDeviceAsync(deviceId, cancellationToken);

        public Task<IReadOnlyList<DeviceRecord>> ListDevicesAsync(CancellationToken cancellationToken) => inner.ListDevicesAsync(cancellationToken);

        public Task<IReadOnlySet<string>> FindEnrolledAsync(IReadOnlyCollection<string> deviceIds, CancellationToken cancellationToken) => inner.FindEnrolledAsync(deviceIds, cancellationToken);

        public Task UpsertDeviceAsync(DeviceRecord device, CancellationToken cancellationToken) => inner.UpsertDeviceAsync(device, cancellationToken);

        public async Task<bool> SaveDesiredAsync(string deviceId, DesiredState desired, long expectedVersion, CancellationToken cancellationToken)
        {
            if (_racesLeft-- > 0)
            {
                var current = (await inner.GetDeviceAsync(deviceId, cancellationToken))!.Desired?.Version ?? 0;
                var other = new DesiredState(current + 1, Deployment($"dep-other-{current + 1}", $"{current + 1}"), TelemetrySettings.Default);
                Assert.True(await inner.SaveDesiredAsync(deviceId, other, current, cancellationToken));
            }

            return await inner.SaveDesiredAsync(deviceId, desired, expectedVersion, cancellationToken);
        }

        public Task SaveReportedAsync(string deviceId, ReportedState reported, DateTimeOffset receivedAt, CancellationToken cancellationToken) =>
            inner.SaveReportedAsync(deviceId, reported, receivedAt, cancellationToken);

        public Task SaveStatusAsync(string deviceId, string status, DateTimeOffset at, CancellationToken cancellationToken) =>
            inner.SaveStatusAsync(deviceId, status, at, cancellationToken);

        public Task SaveAttestationAsync(string deviceId, AttestationStatus attestation, CancellationToken cancellationToken) =>
            inner.SaveAttestationAsync(deviceId, attestation, cancellationToken);
    }
}
