namespace EdgePlatform.ControlPlane.Host.Storage.Models;

/// <summary>Models and aliases in the SQLite file.</summary>
public sealed class SqliteModelStore(SqliteDatabase database) : ModelStore(database)
{
    // rowid grows with each insert: of two versions registered at one instant, the later wins.
    protected override string NewestFirst => "created_at DESC, rowid DESC";
}
