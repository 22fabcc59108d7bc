namespace EdgePlatform.ControlPlane.Host.Storage.Rollouts;

/// <summary>Rollouts on PostgreSQL; every statement is the shared one.</summary>
public sealed class PostgresRolloutStore(StoreDatabase database) : RolloutStore(database);
