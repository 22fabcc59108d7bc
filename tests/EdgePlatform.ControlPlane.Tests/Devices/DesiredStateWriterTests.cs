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

    [Fact]
    public async Task WriteManyAsync_DevicesUnchangedSinceRead_EachGetsItsNextVersionPublishedOnce()
    {
        var known = Enumerable.Range(1, 200).Select(i => _store.AddDevice($"dev-{i:000}", new DesiredState(i % 3, null, TelemetrySettings.Default))).ToList();
        var link = new RecordingLink();
        using var writer = new DesiredStateWriter(_store, link, NullLogger<DesiredStateWriter>.Instance);

        var written = await writer.WriteManyAsync([.. known.Select(d => new DesiredWrite(d, Deployment("dep-a")))], TelemetrySettings.Default, CancellationToken.None);

        Assert.All(known.Zip(written), pair =>
        {
            var (device, result) = pair;
            Assert.Equal(device.Desired!.Version + 1, result!.Value.Desired.Version);
            Assert.Equal("dep-a", result.Value.Desired.Deployment!.DeploymentId);
            Assert.Equal([result.Value.Desired], link.PublishedTo(device.Id));
        });
        foreach (var device in known)
        {
            Assert.Equal(device.Desired!.Version + 1, (await _store.GetDeviceAsync(device.Id, CancellationToken.None))!.Desired!.Version);
        }
    }

    [Fact]
    public async Task WriteManyAsync_DeviceChangedSinceTheCallersRead_WritesOnTopOfTheNewerVersion()
    {
        var stale = _store.AddDevice("dev-1");
        var fresh = _store.AddDevice("dev-2");
        Assert.True(await _store.SaveDesiredAsync("dev-1", new DesiredState(1, Deployment("dep-other", "7"), TelemetrySettings.Default), 0, CancellationToken.None));
        var link = new RecordingLink();
        using var writer = new DesiredStateWriter(_store, link, NullLogger<DesiredStateWriter>.Instance);

        var written = await writer.WriteManyAsync([new DesiredWrite(stale, Deployment("dep-a")), new DesiredWrite(fresh, Deployment("dep-a"))], TelemetrySettings.Default, CancellationToken.None);

        Assert.Equal(2, written[0]!.Value.Desired.Version);
        Assert.Equal("7", written[0]!.Value.Previous!.Version);
        Assert.Equal(1, written[1]!.Value.Desired.Version);
        Assert.Equal(2, link.PublishedTo("dev-1").Single().Version);
        Assert.Equal(2, (await _store.GetDeviceAsync("dev-1", CancellationToken.None))!.Desired!.Version);
    }

    [Fact]
    public async Task WriteManyAsync_ConditionDoesNotHold_LeavesThatDeviceAlone()
    {
        var owned = _store.AddDevice("dev-1", new DesiredState(1, Deployment("ro-1"), TelemetrySettings.Default));
        var other = _store.AddDevice("dev-2", new DesiredState(1, Deployment("ro-2"), TelemetrySettings.Default));
        var link = new RecordingLink();
        using var writer = new DesiredStateWriter(_store, link, NullLogger<DesiredStateWriter>.Instance);
        static bool OwnedByRo1(DesiredState? current) => current?.Deployment?.DeploymentId == "ro-1";

        var written = await writer.WriteManyAsync([new DesiredWrite(owned, null, OwnedByRo1), new DesiredWrite(other, null, OwnedByRo1)], TelemetrySettings.Default, CancellationToken.None);

        Assert.Equal(2, written[0]!.Value.Desired.Version);
        Assert.Null(written[0]!.Value.Desired.Deployment);
        Assert.Null(written[1]);
        Assert.Empty(link.PublishedTo("dev-2"));
        Assert.Equal("ro-2", (await _store.GetDeviceAsync("dev-2", CancellationToken.None))!.Desired!.Deployment!.DeploymentId);
    }

    private static DeploymentSpec Deployment(string id, string version = "1") =>
        new(id, new ModelReference("models/m", "m", version, "sha256:" + new string('1', 64), 10, "c2ln"));

    /// <summary>A broker that records every desired state published, per device.</summary>
    private sealed class RecordingLink : IDeviceLink
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, List<DesiredState>> _published = new(StringComparer.Ordinal);

        public IReadOnlyList<DesiredState> PublishedTo(string deviceId)
        {
            var list = _published.GetValueOrDefault(deviceId) ?? [];
            lock (list)
            {
                return [.. list];
            }
        }

        public Task PublishDesiredAsync(string deviceId, DesiredState desired, CancellationToken cancellationToken)
        {
            var list = _published.GetOrAdd(deviceId, _ => []);
            lock (list)
            {
                list.Add(desired);
            }

            return Task.CompletedTask;
        }
    }

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
    private sealed class RacedStore(InMemoryStore inner, int racesLeft = int.MaxValue) : ForwardingDeviceStore(inner)
    {
        private int _racesLeft = racesLeft;

        public override async Task<bool> SaveDesiredAsync(string deviceId, DesiredState desired, long expectedVersion, CancellationToken cancellationToken)
        {
            if (_racesLeft-- > 0)
            {
                var current = (await Inner.GetDeviceAsync(deviceId, cancellationToken))!.Desired?.Version ?? 0;
                var other = new DesiredState(current + 1, Deployment($"dep-other-{current + 1}", $"{current + 1}"), TelemetrySettings.Default);
                Assert.True(await Inner.SaveDesiredAsync(deviceId, other, current, cancellationToken));
            }

            return await Inner.SaveDesiredAsync(deviceId, desired, expectedVersion, cancellationToken);
        }
    }
}
