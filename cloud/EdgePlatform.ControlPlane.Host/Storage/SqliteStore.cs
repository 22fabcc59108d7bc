using Microsoft.Data.Sqlite;

namespace EdgePlatform.ControlPlane.Host.Storage;

/// <summary>The SQLite file's remaining ports, until each has its own adapter.</summary>
public sealed partial class SqliteStore
{
    private readonly SqliteDatabase _database;

    public SqliteStore(SqliteDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        _database = database;
    }

    private SqliteConnection Open() => _database.Open();
}
