using EdgePlatform.ControlPlane.Access;
using EdgePlatform.ControlPlane.Host.Registry;
using EdgePlatform.ControlPlane.Host.Storage.Experiments;
using EdgePlatform.ControlPlane.Host.Storage.Leases;
using EdgePlatform.ControlPlane.Host.Storage.Rollouts;
using EdgePlatform.ControlPlane.Host.Storage.Sweeps;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Host.Storage;

/// <summary>
/// Every store adapter of a process, one per port, over the one <see cref="StoreDatabase"/> they
/// share. The host registers each port from here; tests open one per database to run the same
/// contract against SQLite and PostgreSQL.
/// </summary>
public sealed class Stores : IDisposable
{
    private Stores(StoreDatabase database) => Database = database;

    public StoreDatabase Database { get; }

    public required IAccessStore Access { get; init; }

    public required IEnrollmentGroupStore EnrollmentGroups { get; init; }

    public required IDeviceStore Devices { get; init; }

    public required IModelStore Models { get; init; }

    public required IDeploymentStore Deployments { get; init; }

    public required ITelemetryStore Telemetry { get; init; }

    public required ITrainingStore Training { get; init; }

    public required IDatasetStore Datasets { get; init; }

    public required IRolloutStore Rollouts { get; init; }

    public required IExperimentStore Experiments { get; init; }

    public required ISweepStore Sweeps { get; init; }

    public required IRegistryManifestIndex RegistryManifests { get; init; }

    public required ILeaseStore Leases { get; init; }

    /// <summary>The adapters for <paramref name="database"/>'s provider; the stores own the database from here on.</summary>
    public static Stores Open(StoreDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        return database switch
        {
            SqliteDatabase sqlite => OpenSqlite(sqlite),
            PostgresDatabase postgres => OpenPostgres(postgres),
            _ => throw new ArgumentException($"no store adapters for {database.Provider}", nameof(database)),
        };
    }

    public static Stores OpenSqlite(string path) => Open(new SqliteDatabase(path));

    public void Dispose() => Database.Dispose();

    private static Stores OpenSqlite(SqliteDatabase database)
    {
        var store = new SqliteStore(database);
        return new Stores(database)
        {
            Access = store,
            EnrollmentGroups = store,
            Devices = store,
            Models = store,
            Deployments = store,
            Telemetry = store,
            Training = store,
            Datasets = store,
            Rollouts = new SqliteRolloutStore(database),
            Experiments = new SqliteExperimentStore(database),
            Sweeps = new SqliteSweepStore(database),
            RegistryManifests = new SqliteRegistryManifestIndex(store),
            Leases = new SqliteLeaseStore(database, TimeProvider.System),
        };
    }

    // Ports whose PostgreSQL adapter is not written yet stay unset (null) until it is.
    private static Stores OpenPostgres(PostgresDatabase database) => new(database)
    {
        Access = null!,
        EnrollmentGroups = null!,
        Devices = null!,
        Models = null!,
        Deployments = null!,
        Telemetry = null!,
        Training = null!,
        Datasets = null!,
        Rollouts = new PostgresRolloutStore(database),
        Experiments = new PostgresExperimentStore(database),
        Sweeps = new PostgresSweepStore(database),
        RegistryManifests = null!,
        Leases = new PostgresLeaseStore(database, TimeProvider.System),
    };
}
