using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace EdgePlatform.ControlPlane.Host.Storage.Sweeps;

/// <summary>
/// The trial queue on SQLite: a lease takes the database's write lock up front (BEGIN IMMEDIATE),
/// so two leasers (here or on another process over the same file) serialize instead of both
/// reading the same queued row.
/// </summary>
public sealed class SqliteSweepStore(StoreDatabase database) : SweepStore(database)
{
    protected override string NextQueuedTrial =>
        """
        rowid = (
            SELECT t.rowid FROM trials t JOIN sweeps s ON s.id = t.sweep_id
            WHERE t.status = 'queued' AND s.status = 'running' ORDER BY t.queued_ms, t.number LIMIT 1)
        """;

    protected override string ExpiredLeases => "status = 'leased' AND lease_expires_ms < @now";

    protected override string Greatest => "MAX";

    // Writers already take turns on the database's one write lock.
    protected override string? SerializeCompletions => null;

    protected override ValueTask<DbTransaction> BeginQueueTransactionAsync(DbConnection connection, CancellationToken cancellationToken) =>
        ValueTask.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: false));

    protected override string JsonNumber(string column, string keyParameter) => $"json_extract({column}, {keyParameter})";

    /// <summary>A JSON path to one key, quoted so names with dots or dashes (log-loss) read as one key.</summary>
    protected override string JsonKey(string key) => "$.\"" + key.Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
