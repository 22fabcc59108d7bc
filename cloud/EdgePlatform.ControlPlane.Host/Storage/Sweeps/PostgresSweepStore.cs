using System.Data.Common;

namespace EdgePlatform.ControlPlane.Host.Storage.Sweeps;

/// <summary>
/// The trial queue on PostgreSQL: a leaser claims the next queued trial with
/// <c>FOR UPDATE SKIP LOCKED</c>, so replicas leasing at once each get a different trial and
/// none waits for another; expired leases are requeued the same way.
/// </summary>
public sealed class PostgresSweepStore(StoreDatabase database) : SweepStore(database)
{
    protected override string NextQueuedTrial =>
        """
        (sweep_id, number) = (
            SELECT t.sweep_id, t.number FROM trials t JOIN sweeps s ON s.id = t.sweep_id
            WHERE t.status = 'queued' AND s.status = 'running' ORDER BY t.queued_ms, t.number LIMIT 1
            FOR UPDATE OF t SKIP LOCKED)
        """;

    protected override string ExpiredLeases =>
        "(sweep_id, number) IN (SELECT sweep_id, number FROM trials WHERE status = 'leased' AND lease_expires_ms < @now FOR UPDATE SKIP LOCKED)";

    protected override string Greatest => "GREATEST";

    // Under read committed two completions would both read the same largest sequence; the
    // sweep's row lock makes them take turns.
    protected override string? SerializeCompletions => "SELECT 1 FROM sweeps WHERE id = @sweepId FOR UPDATE";

    protected override async ValueTask<DbTransaction> BeginQueueTransactionAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override string JsonNumber(string column, string keyParameter) => $"(({column})::jsonb ->> {keyParameter})::double precision";

    protected override string JsonKey(string key) => key;
}
