using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Host.Tests.Datasets;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage;

/// <summary>
/// The store adapters over a fresh, empty database of one provider, removed on dispose: a SQLite
/// file in a temp directory, or a database of its own on the PostgreSQL server that
/// tests/run.sh starts (EDGEPLATFORM_TEST_POSTGRES).
/// </summary>
internal sealed class TestStores : IDisposable
{
    private readonly Action _cleanup;

    private TestStores(Stores stores, string? connectionString, Action cleanup)
    {
        Stores = stores;
        ConnectionString = connectionString;
        _cleanup = cleanup;
    }

    public Stores Stores { get; }

    public StoreProvider Provider => Stores.Database.Provider;

    /// <summary>The PostgreSQL database's connection string; null on SQLite.</summary>
    public string? ConnectionString { get; }

    public static TestStores Create(StoreProvider provider) => provider switch
    {
        StoreProvider.Postgres => CreatePostgres(),
        _ => CreateSqlite(),
    };

    /// <summary>Another set of adapters over the same database, as a second replica would open it.</summary>
    public Stores OpenAnother() => Stores.Database switch
    {
        SqliteDatabase sqlite => Host.Storage.Stores.OpenSqlite(sqlite.Path),
        _ => Host.Storage.Stores.Open(new PostgresDatabase(ConnectionString!)),
    };

    public void Dispose()
    {
        Stores.Dispose();
        _cleanup();
    }

    private static TestStores CreateSqlite()
    {
        var directory = Directory.CreateTempSubdirectory("edgeplatform-store-tests-");
        return new TestStores(Stores.OpenSqlite(Path.Combine(directory.FullName, "edgeplatform.db")), null, () =>
        {
            SqliteConnection.ClearAllPools();
            directory.Delete(recursive: true);
        });
    }

    private static TestStores CreatePostgres()
    {
        var server = TestServices.Require(TestServices.PostgreSql, "PostgreSQL");
        var name = "edgeplatform_test_" + Guid.NewGuid().ToString("N")[..12];
        Admin(server, $"CREATE DATABASE {name}");
        var connectionString = new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
        return new TestStores(Stores.Open(new PostgresDatabase(connectionString)), connectionString, () =>
        {
            NpgsqlConnection.ClearAllPools();
            Admin(server, $"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        });
    }

    private static void Admin(string connectionString, string sql)
    {
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }
}

/// <summary>
/// Base of a store contract: the same tests run once per provider, by a sealed subclass for each
/// (<c>Sqlite…Tests</c>, and <c>Postgres…Tests</c> with the Integration trait).
/// </summary>
public abstract class StoreContract : IDisposable
{
    private readonly TestStores _stores;

    protected StoreContract(StoreProvider provider) => _stores = TestStores.Create(provider);

    protected Stores Stores => _stores.Stores;

    protected StoreProvider Provider => _stores.Provider;

    /// <summary>Adapters over the same database as a second replica would open them; disposed by the caller.</summary>
    protected Stores OpenAnotherReplica() => _stores.OpenAnother();

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stores.Dispose();
        }
    }
}
