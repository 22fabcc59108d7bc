namespace EdgePlatform.ControlPlane.Host.Storage.Experiments;

/// <summary>Experiments on PostgreSQL; every statement is the shared one (looks number themselves by an identity column).</summary>
public sealed class PostgresExperimentStore(StoreDatabase database) : ExperimentStore(database);
