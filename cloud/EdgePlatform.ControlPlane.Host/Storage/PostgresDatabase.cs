using System.Data.Common;
using Npgsql;

namespace EdgePlatform.ControlPlane.Host.Storage;

/// <summary>
/// A PostgreSQL database shared by every replica, through one Npgsql data source (its pool);
/// migrated on open under an advisory lock (<see cref="PostgresMigrations"/>), so replicas
/// starting together migrate it once.
/// </summary>
public sealed class PostgresDatabase : StoreDatabase
{
    private readonly NpgsqlDataSource _dataSource;

    public PostgresDatabase(string connectionString)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionString);
        _dataSource = NpgsqlDataSource.Create(connectionString);
        using var connection = _dataSource.OpenConnection();
        PostgresMigrations.Apply(connection);
    }

    public override StoreProvider Provider => StoreProvider.Postgres;

    public override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    public override DbConnection OpenConnection() => _dataSource.OpenConnection();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _dataSource.Dispose();
        }

        base.Dispose(disposing);
    }
}
