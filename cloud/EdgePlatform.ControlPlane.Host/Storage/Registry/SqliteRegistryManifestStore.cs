namespace EdgePlatform.ControlPlane.Host.Storage.Registry;

/// <summary>The registry's index in the SQLite file; the SQL is the same as on PostgreSQL.</summary>
public sealed class SqliteRegistryManifestStore(SqliteDatabase database) : RegistryManifestStore(database);
