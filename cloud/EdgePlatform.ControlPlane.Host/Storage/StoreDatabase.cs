using System.Data.Common;

namespace EdgePlatform.ControlPlane.Host.Storage;

/// <summary>Which database the store adapters run on.</summary>
public enum StoreProvider
{
    /// <summary>One SQLite file in the data directory: the embedded default for one machine.</summary>
    Sqlite,

    /// <summary>A PostgreSQL server shared by any number of control-plane replicas.</summary>
    Postgres,
}

/// <summary>
/// The one database that every store adapter of a process shares: it owns the connection pool,
/// applies the schema migrations once when it is opened, and hands out open connections. The
/// adapters (one per port, with a SQLite and a PostgreSQL implementation side by side) hold it
/// and nothing else, so a process opens its database once however many ports it serves.
/// </summary>
public abstract class StoreDatabase : IDisposable
{
    // Rows are materialised by Dapper: snake_case columns match PascalCase properties.
    static StoreDatabase() => Dapper.DefaultTypeMap.MatchNamesWithUnderscores = true;

    public abstract StoreProvider Provider { get; }

    /// <summary>An open connection from the pool; dispose it to return it.</summary>
    public abstract ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>As <see cref="OpenAsync"/>, for the few callers that are synchronous by nature (the TUF repository).</summary>
    public abstract DbConnection OpenConnection();

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }
}
