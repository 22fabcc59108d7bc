using Dapper;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Experiments;
using EdgePlatform.ControlPlane.Host.Storage.Leases;
using EdgePlatform.ControlPlane.Ports;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage.Experiments;

/// <summary>
/// Experiments: one JSON document per experiment (state a column for listing), one row per
/// device it placed, and one row per look with the look as JSON.
/// </summary>
public abstract class ExperimentStore(StoreDatabase database) : IExperimentStore
{
    protected StoreDatabase Database { get; } = database ?? throw new ArgumentNullException(nameof(database));

    /// <summary>
    /// The condition that <paramref name="column"/> is one of the list bound to
    /// <paramref name="parameter"/>: SQLite gets the list expanded into IN, PostgreSQL an array.
    /// </summary>
    protected abstract string AnyOf(string column, string parameter);

    public async Task<bool> SaveExperimentAsync(ExperimentInfo experiment, IReadOnlyCollection<ExperimentDevice> devices, LeaseFence? fence, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        ArgumentNullException.ThrowIfNull(devices);
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await LeaseStore.BeginFencedAsync(connection, fence, cancellationToken).ConfigureAwait(false);
        if (transaction is null)
        {
            return false;
        }

        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO experiments (id, state, created_at, document) VALUES (@Id, @State, @CreatedAt, @Document)
            ON CONFLICT (id) DO UPDATE SET state = excluded.state, document = excluded.document
            """,
            new { experiment.Id, experiment.State, CreatedAt = Time(experiment.CreatedAt), Document = Json(experiment, ContractsJsonContext.Default.ExperimentInfo) },
            transaction,
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        if (devices.Count > 0)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO experiment_devices (experiment_id, device_id, arm, unit, state, previous, desired_version, reason, updated_at)
                VALUES (@ExperimentId, @DeviceId, @Arm, @Unit, @State, @Previous, @DesiredVersion, @Reason, @UpdatedAt)
                ON CONFLICT (experiment_id, device_id) DO UPDATE SET arm = excluded.arm, unit = excluded.unit, state = excluded.state,
                    previous = excluded.previous, desired_version = excluded.desired_version, reason = excluded.reason, updated_at = excluded.updated_at
                """,
                devices.Select(d => new
                {
                    ExperimentId = experiment.Id,
                    d.DeviceId,
                    d.Arm,
                    d.Unit,
                    d.State,
                    Previous = d.Previous is null ? null : Json(d.Previous, ContractsJsonContext.Default.ModelReference),
                    d.DesiredVersion,
                    d.Reason,
                    UpdatedAt = Time(d.UpdatedAt),
                }),
                transaction,
                cancellationToken: cancellationToken)).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async Task<ExperimentInfo?> GetExperimentAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var document = await connection.QuerySingleOrDefaultAsync<string>(
            new CommandDefinition("SELECT document FROM experiments WHERE id = @id", new { id }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return document is null ? null : FromJson(document, ContractsJsonContext.Default.ExperimentInfo);
    }

    public async Task<IReadOnlyList<ExperimentInfo>> ListExperimentsAsync(IReadOnlyCollection<string>? states, CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var documents = await connection.QueryAsync<string>(new CommandDefinition(
            $"SELECT document FROM experiments {(states is null ? string.Empty : $"WHERE {AnyOf("state", "@states")}")} ORDER BY created_at, id",
            new { states = states?.ToArray() ?? [] },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. documents.Select(d => FromJson(d, ContractsJsonContext.Default.ExperimentInfo))];
    }

    public async Task<IReadOnlyList<ExperimentDevice>> ListExperimentDevicesAsync(string experimentId, CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = await connection.QueryAsync<ExperimentDeviceRow>(new CommandDefinition(
            "SELECT device_id, arm, unit, state, previous, desired_version, reason, updated_at FROM experiment_devices WHERE experiment_id = @experimentId ORDER BY device_id",
            new { experimentId },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. rows.Select(r => new ExperimentDevice(
            r.DeviceId,
            r.Arm,
            r.Unit,
            r.State,
            r.Previous is null ? null : FromJson(r.Previous, ContractsJsonContext.Default.ModelReference),
            r.DesiredVersion,
            r.Reason,
            ParseTime(r.UpdatedAt)))];
    }

    public async Task AddLookAsync(string experimentId, ExperimentLook look, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(look);
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO experiment_looks (experiment_id, at, document) VALUES (@experimentId, @At, @Document)",
            new { experimentId, At = Time(look.At), Document = Json(look, StorageJsonContext.Default.ExperimentLook) },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<ExperimentLook>> ListLooksAsync(string experimentId, CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var documents = await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT document FROM experiment_looks WHERE experiment_id = @experimentId ORDER BY seq",
            new { experimentId },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. documents.Select(d => FromJson(d, StorageJsonContext.Default.ExperimentLook))];
    }

#pragma warning disable CA1812 // Instantiated by Dapper.
    private sealed class ExperimentDeviceRow
    {
        public string DeviceId { get; set; } = "";
        public string Arm { get; set; } = "";
        public string Unit { get; set; } = "";
        public string State { get; set; } = "";
        public string? Previous { get; set; }
        public long? DesiredVersion { get; set; }
        public string? Reason { get; set; }
        public string UpdatedAt { get; set; } = "";
    }
#pragma warning restore CA1812
}
