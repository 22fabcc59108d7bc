using System.Data.Common;
using Dapper;
using EdgePlatform.ControlPlane.Access;
using EdgePlatform.ControlPlane.Host.Storage;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage.Access;

public abstract class AccessStoreContract(StoreProvider provider) : StoreContract(provider)
{
    private static readonly DateTimeOffset Now = new(2026, 2, 1, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task RevokeTokenAsync_RevokedTwice_KeepsTheFirstTime()
    {
        var store = Stores.Access;
        await store.AddTokenAsync(new ApiTokenRecord("tok-1", "ci", OperatorRoles.Admin, "hash-1", "alice", Now, null), CancellationToken.None);
        await store.AddTokenAsync(new ApiTokenRecord("tok-2", "ops", OperatorRoles.Admin, "hash-2", "alice", Now.AddMinutes(1), null), CancellationToken.None);

        Assert.True(await store.RevokeTokenAsync("tok-1", Now.AddHours(1), CancellationToken.None));
        Assert.True(await store.RevokeTokenAsync("tok-1", Now.AddHours(2), CancellationToken.None));
        Assert.False(await store.RevokeTokenAsync("tok-none", Now.AddHours(2), CancellationToken.None));

        Assert.Equal(Now.AddHours(1), (await store.FindTokenAsync("tok-1", CancellationToken.None))!.RevokedAt);
        var listed = await store.ListTokensAsync(CancellationToken.None);
        Assert.Equal(["tok-1", "tok-2"], listed.Select(t => t.Id));
        Assert.Null(listed[1].RevokedAt);
        Assert.Null(await store.FindTokenAsync("tok-none", CancellationToken.None));
    }

    [Fact]
    public async Task ListAuditAsync_SeveralEntries_NewestFirstUpToTheLimit()
    {
        var store = Stores.Access;
        for (var i = 0; i < 5; i++)
        {
            await store.AppendAuditAsync(Now.AddSeconds(i), "alice", $"POST /api/v1/things/{i}", 200 + i, CancellationToken.None);
        }

        var entries = await store.ListAuditAsync(3, CancellationToken.None);

        Assert.Equal(["POST /api/v1/things/4", "POST /api/v1/things/3", "POST /api/v1/things/2"], entries.Select(e => e.Action));
        Assert.Equal((Now.AddSeconds(4), "alice", 204), (entries[0].At, entries[0].Actor, entries[0].Status));
        Assert.True(entries[0].Sequence > entries[1].Sequence);
    }

    [Theory]
    [InlineData("DELETE FROM audit_log")]
    [InlineData("UPDATE audit_log SET actor = 'mallory'")]
    public async Task AuditLog_RewrittenBehindTheStore_RefusedAndKept(string sql)
    {
        await Stores.Access.AppendAuditAsync(Now, "alice", "DELETE /api/v1/devices/dev-1", 204, CancellationToken.None);
        await using var connection = await Stores.Database.OpenAsync(CancellationToken.None);

        var error = await Assert.ThrowsAnyAsync<DbException>(() => connection.ExecuteAsync(sql));

        Assert.Contains("append-only", error.Message, StringComparison.Ordinal);
        Assert.Equal("alice", Assert.Single(await Stores.Access.ListAuditAsync(10, CancellationToken.None)).Actor);
    }
}

public sealed class SqliteAccessStoreTests() : AccessStoreContract(StoreProvider.Sqlite);

[Trait("Category", "Integration")]
public sealed class PostgresAccessStoreTests() : AccessStoreContract(StoreProvider.Postgres);
