namespace EdgePlatform.ControlPlane.Host.Storage.Rollouts;

/// <summary>Rollouts on SQLite; every statement is the shared one.</summary>
public sealed class SqliteRolloutStore(StoreDatabase database) : RolloutStore(database);
