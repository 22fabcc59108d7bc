using Dapper;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Storage.Leases;
using EdgePlatform.ControlPlane.Ports;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage.Rollouts;

/// <summary>
/// Rollouts: one small JSON document per rollout (definition and progress; state and priority
/// are columns for listing), and one row per device of it, so that a tick rewrites only the
/// devices that moved. Counts per state are computed from the device rows on every read.
/// </summary>
public abstract class RolloutStore(StoreDatabase database) : IRolloutStore
{
    protected StoreDatabase Database { get; } = database ?? throw new ArgumentNullException(nameof(database));

    /// <summary>
    /// The condition that <paramref name="column"/> is one of the list bound to
    /// <paramref name="parameter"/>: SQLite gets the list expanded into IN, PostgreSQL an array.
    /// </summary>
    protected abstract string AnyOf(string column, string parameter);

    public async Task<bool> SaveRolloutAsync(RolloutInfo rollout, IReadOnlyCollection<RolloutDevice> devices, LeaseFence? fence, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        ArgumentNullException.ThrowIfNull(devices);
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await LeaseStore.BeginFencedAsync(connection, fence, cancellationToken).ConfigureAwait(false);
        if (transaction is null)
        {
            return false;
        }

        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO rollouts (id, state, priority, created_at, document) VALUES (@Id, @State, @Priority, @CreatedAt, @Document)
            ON CONFLICT (id) DO UPDATE SET state = excluded.state, priority = excluded.priority, document = excluded.document
            """,
            new
            {
                rollout.Id,
                rollout.State,
                rollout.Priority,
                CreatedAt = Time(rollout.CreatedAt),
                Document = Json(rollout with { Counts = null, StageCounts = null }, ContractsJsonContext.Default.RolloutInfo),
            },
            transaction,
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        if (devices.Count > 0)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO rollout_devices (rollout_id, device_id, stage, state, document) VALUES (@RolloutId, @DeviceId, @Stage, @State, @Document)
                ON CONFLICT (rollout_id, device_id) DO UPDATE SET stage = excluded.stage, state = excluded.state, document = excluded.document
                """,
                devices.Select(d => new
                {
                    RolloutId = rollout.Id,
                    d.DeviceId,
                    d.Stage,
                    d.State,
                    Document = Json(d, ContractsJsonContext.Default.RolloutDevice),
                }),
                transaction,
                cancellationToken: cancellationToken)).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async Task<RolloutInfo?> GetRolloutAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var document = await connection.QuerySingleOrDefaultAsync<string>(
            new CommandDefinition("SELECT document FROM rollouts WHERE id = @id", new { id }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        if (document is null)
        {
            return null;
        }

        var counts = await connection.QueryAsync<RolloutCountRow>(new CommandDefinition(
            "SELECT rollout_id, stage, state, COUNT(*) AS count FROM rollout_devices WHERE rollout_id = @id GROUP BY rollout_id, stage, state",
            new { id },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return WithCounts(FromJson(document, ContractsJsonContext.Default.RolloutInfo), counts);
    }

    public async Task<IReadOnlyList<RolloutInfo>> ListRolloutsAsync(IReadOnlyCollection<string>? states, bool withCounts, CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var documents = await connection.QueryAsync<string>(new CommandDefinition(
            $"SELECT document FROM rollouts {(states is null ? string.Empty : $"WHERE {AnyOf("state", "@states")}")} ORDER BY created_at, id",
            new { states = states?.ToArray() ?? [] },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        if (!withCounts)
        {
            return [.. documents.Select(d => FromJson(d, ContractsJsonContext.Default.RolloutInfo))];
        }

        var counts = (await connection.QueryAsync<RolloutCountRow>(new CommandDefinition(
            $"""
            SELECT d.rollout_id, d.stage, d.state, COUNT(*) AS count
            FROM rollout_devices d JOIN rollouts r ON r.id = d.rollout_id {(states is null ? string.Empty : $"WHERE {AnyOf("r.state", "@states")}")}
            GROUP BY d.rollout_id, d.stage, d.state
            """,
            new { states = states?.ToArray() ?? [] },
            cancellationToken: cancellationToken)).ConfigureAwait(false)).ToLookup(c => c.RolloutId, StringComparer.Ordinal);
        return [.. documents.Select(d => FromJson(d, ContractsJsonContext.Default.RolloutInfo)).Select(r => WithCounts(r, counts[r.Id]))];
    }

    public Task<IReadOnlyList<RolloutDevice>> ListRolloutDevicesAsync(string rolloutId, CancellationToken cancellationToken) =>
        PageRolloutDevicesAsync(rolloutId, state: null, after: null, limit: -1, cancellationToken);

    public async Task<IReadOnlyList<RolloutDevice>> PageRolloutDevicesAsync(string rolloutId, string? state, string? after, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await Database.OpenAsync(cancellationToken).ConfigureAwait(false);

        // Conditions are left out rather than written as "@x IS NULL OR ...", so the planner picks
        // the (rollout, state, device) index for a state and the primary key otherwise; a negative
        // limit is none.
        var sql = "SELECT document FROM rollout_devices WHERE rollout_id = @rolloutId"
            + (state is null ? string.Empty : " AND state = @state")
            + (after is null ? string.Empty : " AND device_id > @after")
            + " ORDER BY device_id"
            + (limit < 0 ? string.Empty : " LIMIT @limit");
        var documents = await connection.QueryAsync<string>(
            new CommandDefinition(sql, new { rolloutId, state, after, limit }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. documents.Select(d => FromJson(d, ContractsJsonContext.Default.RolloutDevice))];
    }

    private static RolloutInfo WithCounts(RolloutInfo rollout, IEnumerable<RolloutCountRow> rows)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var stages = rollout.Stages.Select(_ => new Dictionary<string, int>(StringComparer.Ordinal)).ToList();
        foreach (var row in rows)
        {
            counts[row.State] = counts.GetValueOrDefault(row.State) + (int)row.Count;
            if (row.Stage >= 0 && row.Stage < stages.Count)
            {
                stages[(int)row.Stage][row.State] = (int)row.Count;
            }
        }

        return rollout with { Counts = counts, StageCounts = stages };
    }

#pragma warning disable CA1812 // Instantiated by Dapper.
    private sealed class RolloutCountRow
    {
        public string RolloutId { get; set; } = "";
        public long Stage { get; set; }
        public string State { get; set; } = "";
        public long Count { get; set; }
    }
#pragma warning restore CA1812
}
