namespace EdgePlatform.ControlPlane.Host.Storage.Access;

/// <summary>Tokens and the audit log in the SQLite file; the SQL is the same as on PostgreSQL.</summary>
public sealed class SqliteAccessStore(SqliteDatabase database) : AccessStore(database);
