using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Host.Storage.Leases;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage;

/// <summary>Named leases shared by replicas: one holder at a time, a fencing epoch that grows only when the lease changes hands.</summary>
public abstract class LeaseStoreContract(StoreProvider provider) : StoreContract(provider)
{
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(10);

    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));

    private LeaseStore Leases => LeaseStore.Open(Stores.Database, _clock);

    [Fact]
    public async Task TryAcquireAsync_HeldByAnother_RefusedUntilItExpires()
    {
        var first = await Leases.TryAcquireAsync("rollouts", "replica-a", Duration, CancellationToken.None);

        Assert.NotNull(first);
        Assert.Null(await Leases.TryAcquireAsync("rollouts", "replica-b", Duration, CancellationToken.None));
        Assert.Equal("replica-a", (await Leases.GetAsync("rollouts", CancellationToken.None))!.Holder);
        Assert.NotNull(await Leases.TryAcquireAsync("experiments", "replica-b", Duration, CancellationToken.None));
    }

    [Fact]
    public async Task TryAcquireAsync_HolderRenews_KeepsTheEpochAndMovesTheExpiry()
    {
        var first = (await Leases.TryAcquireAsync("rollouts", "replica-a", Duration, CancellationToken.None))!;
        _clock.Now += TimeSpan.FromSeconds(7);

        var renewed = (await Leases.TryAcquireAsync("rollouts", "replica-a", Duration, CancellationToken.None))!;
        _clock.Now += TimeSpan.FromSeconds(7);

        Assert.Equal(first.Epoch, renewed.Epoch);
        Assert.Equal(first.ExpiresAt + TimeSpan.FromSeconds(7), renewed.ExpiresAt);
        Assert.Null(await Leases.TryAcquireAsync("rollouts", "replica-b", Duration, CancellationToken.None));
    }

    [Fact]
    public async Task TryAcquireAsync_HolderExpired_AnotherTakesItWithAHigherEpoch()
    {
        var first = (await Leases.TryAcquireAsync("rollouts", "replica-a", Duration, CancellationToken.None))!;
        _clock.Now += Duration + TimeSpan.FromSeconds(1);

        var taken = await Leases.TryAcquireAsync("rollouts", "replica-b", Duration, CancellationToken.None);

        Assert.NotNull(taken);
        Assert.Equal("replica-b", taken.Holder);
        Assert.True(taken.Epoch > first.Epoch);
        Assert.Null(await Leases.TryAcquireAsync("rollouts", "replica-a", Duration, CancellationToken.None));
    }

    [Fact]
    public async Task ReleaseAsync_ByTheHolder_AnotherTakesItAtOnceAndAStaleReleaseChangesNothing()
    {
        var first = (await Leases.TryAcquireAsync("rollouts", "replica-a", Duration, CancellationToken.None))!;

        await Leases.ReleaseAsync(first, CancellationToken.None);
        var taken = (await Leases.TryAcquireAsync("rollouts", "replica-b", Duration, CancellationToken.None))!;
        await Leases.ReleaseAsync(first, CancellationToken.None);

        Assert.True(taken.Epoch > first.Epoch);
        Assert.Null(await Leases.TryAcquireAsync("rollouts", "replica-a", Duration, CancellationToken.None));
    }

    [Fact]
    public async Task TryAcquireAsync_ReplicasRacingForAFreeLease_ExactlyOneWins()
    {
        var stores = Enumerable.Range(0, 4).Select(_ => OpenAnotherReplica()).ToList();
        try
        {
            var results = await Task.WhenAll(stores.Select((s, i) => Task.Run(() =>
                LeaseStore.Open(s.Database, _clock).TryAcquireAsync("rollouts", $"replica-{i}", Duration, CancellationToken.None))));

            var winner = Assert.Single(results, r => r is not null);
            Assert.Equal(1, winner!.Epoch);
        }
        finally
        {
            stores.ForEach(s => s.Dispose());
        }
    }
}

public sealed class SqliteLeaseStoreTests() : LeaseStoreContract(StoreProvider.Sqlite);

[Trait("Category", "Integration")]
public sealed class PostgresLeaseStoreTests() : LeaseStoreContract(StoreProvider.Postgres);
