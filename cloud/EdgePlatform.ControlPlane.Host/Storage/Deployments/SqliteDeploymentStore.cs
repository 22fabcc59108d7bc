namespace EdgePlatform.ControlPlane.Host.Storage.Deployments;

/// <summary>Deployments in the SQLite file; the SQL is the same as on PostgreSQL.</summary>
public sealed class SqliteDeploymentStore(SqliteDatabase database) : DeploymentStore(database);
