using System.Data.Common;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Host.Storage.Telemetry;

/// <summary>
/// Telemetry on a PostgreSQL server shared by replicas. Two replicas storing the same (device,
/// sequence) at once meet on the raw table's primary key: the second insert waits for the first
/// transaction and then stores nothing, so each write's result holds only what it stored.
/// </summary>
public sealed class PostgresTelemetryStore(PostgresDatabase database) : TelemetryStore(database)
{
    private protected override string Greatest => "GREATEST";

    private protected override string IdsIn(string column, string parameter) => $"{column} = ANY({parameter})";

    private protected override object IdsValue(IReadOnlyCollection<string> ids) => ids.ToArray();

    /// <summary>Each statement is a round trip to the server, so a write is a few statements over whole columns (<see cref="PostgresTelemetryWriter"/>).</summary>
    private protected override Task<IReadOnlyList<StoredTelemetry>> WriteAsync(
        DbConnection connection, DbTransaction transaction, TelemetryWrite write, CancellationToken cancellationToken) =>
        new PostgresTelemetryWriter(connection, transaction, write).WriteAsync(cancellationToken);
}
