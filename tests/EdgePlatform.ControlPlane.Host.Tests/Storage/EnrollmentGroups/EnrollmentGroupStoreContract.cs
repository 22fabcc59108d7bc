using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage.EnrollmentGroups;

public abstract class EnrollmentGroupStoreContract(StoreProvider provider) : StoreContract(provider)
{
    private static readonly DateTimeOffset Now = new(2026, 2, 1, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task RevokeGroupAsync_RevokedTwice_KeepsTheFirstTimeAndTheOthersStay()
    {
        var store = Stores.EnrollmentGroups;
        await store.AddGroupAsync(new EnrollmentGroupRecord("grp-1", "line-1", "key-1", Now, null), CancellationToken.None);
        await store.AddGroupAsync(new EnrollmentGroupRecord("grp-2", "line-2", "key-2", Now.AddMinutes(1), null), CancellationToken.None);

        Assert.True(await store.RevokeGroupAsync("grp-1", Now.AddHours(1), CancellationToken.None));
        Assert.True(await store.RevokeGroupAsync("grp-1", Now.AddHours(2), CancellationToken.None));
        Assert.False(await store.RevokeGroupAsync("grp-none", Now, CancellationToken.None));

        var groups = await store.ListGroupsAsync(CancellationToken.None);
        Assert.Equal(
            [new EnrollmentGroupRecord("grp-1", "line-1", "key-1", Now, Now.AddHours(1)), new EnrollmentGroupRecord("grp-2", "line-2", "key-2", Now.AddMinutes(1), null)],
            groups);
    }
}

public sealed class SqliteEnrollmentGroupStoreTests() : EnrollmentGroupStoreContract(StoreProvider.Sqlite);

[Trait("Category", "Integration")]
public sealed class PostgresEnrollmentGroupStoreTests() : EnrollmentGroupStoreContract(StoreProvider.Postgres);
