namespace EdgePlatform.ControlPlane.Host.Storage.Deployments;

/// <summary>Deployments on PostgreSQL; the SQL is the same as on SQLite.</summary>
public sealed class PostgresDeploymentStore(PostgresDatabase database) : DeploymentStore(database);
