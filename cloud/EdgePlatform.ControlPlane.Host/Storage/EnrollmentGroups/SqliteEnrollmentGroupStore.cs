namespace EdgePlatform.ControlPlane.Host.Storage.EnrollmentGroups;

/// <summary>Enrollment groups in the SQLite file; the SQL is the same as on PostgreSQL.</summary>
public sealed class SqliteEnrollmentGroupStore(SqliteDatabase database) : EnrollmentGroupStore(database);
