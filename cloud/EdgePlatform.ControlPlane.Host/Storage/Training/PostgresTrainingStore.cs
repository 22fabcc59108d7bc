namespace EdgePlatform.ControlPlane.Host.Storage.Training;

/// <summary>Datasets and training runs on PostgreSQL; the SQL is the same as on SQLite.</summary>
public sealed class PostgresTrainingStore(PostgresDatabase database) : TrainingStore(database);
