namespace EdgePlatform.ControlPlane.Host.Storage.Access;

/// <summary>Tokens and the audit log on PostgreSQL; the SQL is the same as on SQLite.</summary>
public sealed class PostgresAccessStore(PostgresDatabase database) : AccessStore(database);
