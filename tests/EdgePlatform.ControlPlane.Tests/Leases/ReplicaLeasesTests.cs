using EdgePlatform.ControlPlane.Leases;
using EdgePlatform.ControlPlane.Tests.Fakes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Tests.Leases;

/// <summary>Two replicas over one lease store: one holder at a time, and a takeover once the holder goes quiet.</summary>
public sealed class ReplicaLeasesTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly InMemoryLeaseStore _store;
    private readonly ReplicaLeases _first;
    private readonly ReplicaLeases _second;

    public ReplicaLeasesTests()
    {
        _store = new InMemoryLeaseStore(_time);
        _first = Replica("replica-a");
        _second = Replica("replica-b");
    }

    public void Dispose()
    {
        _first.Dispose();
        _second.Dispose();
    }

    [Fact]
    public async Task HoldAsync_TwoReplicas_OnlyTheFirstHoldsTheLease()
    {
        var fence = await _first.HoldAsync(LeaseNames.Rollouts, CancellationToken.None);

        Assert.NotNull(fence);
        Assert.Null(await _second.HoldAsync(LeaseNames.Rollouts, CancellationToken.None));
        Assert.True(_first.Holds(LeaseNames.Rollouts));
        Assert.False(_second.Holds(LeaseNames.Rollouts));
        Assert.Equal(fence, _first.Fence(LeaseNames.Rollouts));
    }

    [Fact]
    public async Task RenewAllAsync_HolderRenewsEveryThirdOfTheLease_KeepsItAndItsEpochPastTheFirstExpiry()
    {
        var fence = await _first.HoldAsync(LeaseNames.Rollouts, CancellationToken.None);
        for (var renewal = 0; renewal < 6; renewal++)
        {
            _time.Advance(_first.Duration / 3);
            await _first.RenewAllAsync(CancellationToken.None);
            Assert.Null(await _second.HoldAsync(LeaseNames.Rollouts, CancellationToken.None));
        }

        Assert.Equal(fence, await _first.HoldAsync(LeaseNames.Rollouts, CancellationToken.None));
    }

    [Fact]
    public async Task HoldAsync_HolderStopsRenewing_AnotherReplicaTakesOverWithAHigherEpochAndTheOldOneStops()
    {
        var old = await _first.HoldAsync(LeaseNames.Rollouts, CancellationToken.None);
        await _second.HoldAsync(LeaseNames.Rollouts, CancellationToken.None);

        _time.Advance(_first.Duration + TimeSpan.FromSeconds(1));
        await _second.RenewAllAsync(CancellationToken.None);

        var taken = _second.Fence(LeaseNames.Rollouts);
        Assert.NotNull(taken);
        Assert.True(taken.Epoch > old!.Epoch);
        Assert.False(_first.Holds(LeaseNames.Rollouts));
        Assert.Null(await _first.HoldAsync(LeaseNames.Rollouts, CancellationToken.None));
        Assert.False(_store.Holds(old));
    }

    [Fact]
    public async Task ReleaseAllAsync_HolderStops_AnotherReplicaTakesOverWithoutWaitingForTheExpiry()
    {
        await _first.HoldAsync(LeaseNames.Experiments, CancellationToken.None);

        await _first.ReleaseAllAsync(CancellationToken.None);

        Assert.NotNull(await _second.HoldAsync(LeaseNames.Experiments, CancellationToken.None));
    }

    [Fact]
    public async Task Want_OnlyReplica_HoldsAfterTheFirstRenewal()
    {
        _first.Want(LeaseNames.FleetMetrics);
        Assert.False(_first.Holds(LeaseNames.FleetMetrics));

        await _first.RenewAllAsync(CancellationToken.None);

        Assert.True(_first.Holds(LeaseNames.FleetMetrics));
    }

    private ReplicaLeases Replica(string id) =>
        new(_store, Options.Create(new ReplicaOptions { Id = id }), _time, NullLogger<ReplicaLeases>.Instance);
}
