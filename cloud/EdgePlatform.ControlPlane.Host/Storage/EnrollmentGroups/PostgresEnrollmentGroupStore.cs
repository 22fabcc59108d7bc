namespace EdgePlatform.ControlPlane.Host.Storage.EnrollmentGroups;

/// <summary>Enrollment groups on PostgreSQL; the SQL is the same as on SQLite.</summary>
public sealed class PostgresEnrollmentGroupStore(PostgresDatabase database) : EnrollmentGroupStore(database);
