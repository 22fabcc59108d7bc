using System.Data.Common;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage.Telemetry;

/// <summary>Telemetry in the SQLite file: one writer at a time holds the database, so nothing needs locking.</summary>
public sealed class SqliteTelemetryStore(SqliteDatabase database) : TelemetryStore(database)
{
    private protected override string Greatest => "max";

    /// <summary>The ids travel as one JSON array: a fleet of thousands would pass SQLite's limit on parameters.</summary>
    private protected override string IdsIn(string column, string parameter) => $"{column} IN (SELECT value FROM json_each({parameter}))";

    private protected override object IdsValue(IReadOnlyCollection<string> ids) => Json(ids.ToList(), ContractsJsonContext.Default.ListString);

    /// <summary>One prepared statement per report: with the database in the process, a statement costs no round trip.</summary>
    private protected override Task<IReadOnlyList<StoredTelemetry>> WriteAsync(
        DbConnection connection, DbTransaction transaction, TelemetryWrite write, CancellationToken cancellationToken) =>
        Task.FromResult(TelemetryWriter.Write(connection, transaction, write, Greatest, prepare: true, cancellationToken));

    /// <summary>
    /// Telemetry commits skip the per-commit fsync (WAL with synchronous=NORMAL): a killed
    /// server loses nothing committed; a power cut may lose the last transactions, whose
    /// messages the broker then still holds, since they are acknowledged only after the commit
    /// returned (with the embedded broker, which keeps nothing on disk, they are lost with it).
    /// Every other table keeps FULL.
    /// </summary>
    private protected override ValueTask<DbConnection> OpenForTelemetryWriteAsync(CancellationToken cancellationToken)
    {
        var connection = database.Open();
        using (var pragma = connection.CreateCommand())
        {
            pragma.CommandText = "PRAGMA synchronous = NORMAL";
            pragma.ExecuteNonQuery();
        }

        return ValueTask.FromResult<DbConnection>(connection);
    }
}
