namespace EdgePlatform.ControlPlane.Host.Storage.Experiments;

/// <summary>Experiments on SQLite; every statement is the shared one.</summary>
public sealed class SqliteExperimentStore(StoreDatabase database) : ExperimentStore(database);
