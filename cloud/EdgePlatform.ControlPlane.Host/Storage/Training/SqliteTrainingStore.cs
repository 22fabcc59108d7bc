namespace EdgePlatform.ControlPlane.Host.Storage.Training;

/// <summary>Datasets and training runs in the SQLite file; the SQL is the same as on PostgreSQL.</summary>
public sealed class SqliteTrainingStore(SqliteDatabase database) : TrainingStore(database);
