using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace EdgePlatform.ControlPlane.Host.Storage;

/// <summary>One SQLite file, WAL mode, migrated on open (<see cref="SqliteMigrations"/>).</summary>
public sealed class SqliteDatabase : StoreDatabase
{
    private readonly string _connectionString;

    public SqliteDatabase(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = path;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Shared,
            DefaultTimeout = 30,
            Pooling = true,
        }.ToString();
        using var connection = Open();
        SqliteMigrations.Apply(connection);
    }

    public string Path { get; }

    public override StoreProvider Provider => StoreProvider.Sqlite;

    public override ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult<DbConnection>(Open());

    public override DbConnection OpenConnection() => Open();

    /// <summary>
    /// An open connection with full durability. Opening a SQLite file does no I/O worth awaiting,
    /// so this is synchronous; telemetry lowers <c>synchronous</c> on the connection it writes with.
    /// </summary>
    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();

        // Pooled connections keep their settings, so each one is set back to the default here.
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA synchronous = FULL";
        command.ExecuteNonQuery();
        return connection;
    }
}
