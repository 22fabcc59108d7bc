using EdgePlatform.ControlPlane.Host.Storage;
using Npgsql;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage;

[Trait("Category", "Integration")]
public sealed class PostgresMigrationsTests
{
    [Fact]
    public async Task Open_TwoReplicasAtOnce_MigrateOnceToLatest()
    {
        using var first = TestStores.Create(StoreProvider.Postgres);

        // A second and third replica opening the migrated database together change nothing.
        var replicas = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Task.Run(first.OpenAnother)));
        foreach (var replica in replicas)
        {
            replica.Dispose();
        }

        await using var connection = new NpgsqlConnection(first.ConnectionString);
        await connection.OpenAsync();
        await using var versions = new NpgsqlCommand("SELECT COUNT(*), MAX(version) FROM schema_migrations", connection);
        await using var reader = await versions.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(PostgresMigrations.LatestVersion, reader.GetInt64(0));
        Assert.Equal(PostgresMigrations.LatestVersion, reader.GetInt32(1));
    }

    [Fact]
    public async Task AuditLog_UpdateOrDelete_Refused()
    {
        using var stores = TestStores.Create(StoreProvider.Postgres);
        await using var connection = new NpgsqlConnection(stores.ConnectionString);
        await connection.OpenAsync();
        await using (var insert = new NpgsqlCommand("INSERT INTO audit_log (at, actor, action, status) VALUES ('2026-01-01T00:00:00Z', 'a', 'b', 200)", connection))
        {
            await insert.ExecuteNonQueryAsync();
        }

        await using var delete = new NpgsqlCommand("DELETE FROM audit_log", connection);
        var error = await Assert.ThrowsAsync<PostgresException>(() => delete.ExecuteNonQueryAsync());
        Assert.Contains("append-only", error.MessageText, StringComparison.Ordinal);
    }
}
