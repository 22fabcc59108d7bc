namespace EdgePlatform.ControlPlane.Host.Storage.Registry;

/// <summary>The registry's index on PostgreSQL; the SQL is the same as on SQLite.</summary>
public sealed class PostgresRegistryManifestStore(PostgresDatabase database) : RegistryManifestStore(database);
