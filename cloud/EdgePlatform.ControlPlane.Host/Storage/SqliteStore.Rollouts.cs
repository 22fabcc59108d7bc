using Dapper;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Host.Storage;

/// <summary>Rollouts, one JSON document per rollout; state and priority are columns for listing.</summary>
public sealed partial class SqliteStore : IRolloutStore
{
    public async Task SaveRolloutAsync(RolloutInfo rollout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        await using var connection = Open();
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
                Document = Json(rollout, ContractsJsonContext.Default.RolloutInfo),
            },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<RolloutInfo?> GetRolloutAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var document = await connection.QuerySingleOrDefaultAsync<string>(
            new CommandDefinition("SELECT document FROM rollouts WHERE id = @id", new { id }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return document is null ? null : FromJson(document, ContractsJsonContext.Default.RolloutInfo);
    }

    public async Task<IReadOnlyList<RolloutInfo>> ListRolloutsAsync(CancellationToken cancellationToken)
    {
        await using var connection = Open();
        var documents = await connection.QueryAsync<string>(
            new CommandDefinition("SELECT document FROM rollouts ORDER BY created_at, id", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. documents.Select(d => FromJson(d, ContractsJsonContext.Default.RolloutInfo))];
    }
}
