using EdgePlatform.ControlPlane.Access;
using EdgePlatform.ControlPlane.Host.Registry;
using EdgePlatform.ControlPlane.Host.Storage.Access;
using EdgePlatform.ControlPlane.Host.Storage.Datasets;
using EdgePlatform.ControlPlane.Host.Storage.Deployments;
using EdgePlatform.ControlPlane.Host.Storage.Devices;
using EdgePlatform.ControlPlane.Host.Storage.EnrollmentGroups;
using EdgePlatform.ControlPlane.Host.Storage.Experiments;
using EdgePlatform.ControlPlane.Host.Storage.Leases;
using EdgePlatform.ControlPlane.Host.Storage.Models;
using EdgePlatform.ControlPlane.Host.Storage.Registry;
using EdgePlatform.ControlPlane.Host.Storage.Rollouts;
using EdgePlatform.ControlPlane.Host.Storage.Sweeps;
using EdgePlatform.ControlPlane.Host.Storage.Training;
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

    /// <summary>The signed trust metadata every replica serves (the same adapter on both databases).</summary>
    public required EdgePlatform.Security.Tuf.ITufMetadataStore TrustMetadata { get; init; }

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
        return new Stores(database)
        {
            Access = new SqliteAccessStore(database),
            EnrollmentGroups = new SqliteEnrollmentGroupStore(database),
            Devices = new SqliteDeviceStore(database),
            Models = new SqliteModelStore(database),
            Deployments = new SqliteDeploymentStore(database),
            Telemetry = new Telemetry.SqliteTelemetryStore(database),
            Training = new SqliteTrainingStore(database),
            Datasets = new SqliteDatasetStore(database),
            Rollouts = new SqliteRolloutStore(database),
            Experiments = new SqliteExperimentStore(database),
            Sweeps = new SqliteSweepStore(database),
            RegistryManifests = new SqliteRegistryManifestStore(database),
            Leases = new SqliteLeaseStore(database, TimeProvider.System),
            TrustMetadata = new Trust.TrustMetadataStore(database, TimeProvider.System),
        };
    }

    private static Stores OpenPostgres(PostgresDatabase database) => new(database)
    {
        Access = new PostgresAccessStore(database),
        EnrollmentGroups = new PostgresEnrollmentGroupStore(database),
        Devices = new PostgresDeviceStore(database),
        Models = new PostgresModelStore(database),
        Deployments = new PostgresDeploymentStore(database),
        Telemetry = new Telemetry.PostgresTelemetryStore(database),
        Training = new PostgresTrainingStore(database),
        Datasets = new PostgresDatasetStore(database),
        Rollouts = new PostgresRolloutStore(database),
        Experiments = new PostgresExperimentStore(database),
        Sweeps = new PostgresSweepStore(database),
        RegistryManifests = new PostgresRegistryManifestStore(database),
        Leases = new PostgresLeaseStore(database, TimeProvider.System),
        TrustMetadata = new Trust.TrustMetadataStore(database, TimeProvider.System),
    };
}
