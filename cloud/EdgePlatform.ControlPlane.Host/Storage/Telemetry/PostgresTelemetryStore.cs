namespace EdgePlatform.ControlPlane.Host.Storage.Telemetry;

/// <summary>
/// Telemetry on a PostgreSQL server shared by replicas. Two replicas storing the same (device,
/// sequence) at once meet on the raw table's primary key: the second insert waits for the first
/// transaction and then stores nothing, so each write's result holds only what it stored.
/// </summary>
public sealed class PostgresTelemetryStore(PostgresDatabase database) : TelemetryStore(database)
{
    private protected override string Greatest => "GREATEST";

    /// <summary>Replicas adding to the same device's minute take turns rather than overwrite each other's merge.</summary>
    private protected override string ForUpdate => " FOR UPDATE";

    private protected override bool PrepareStatements => true;

    private protected override string IdsIn(string column, string parameter) => $"{column} = ANY({parameter})";

    private protected override object IdsValue(IReadOnlyCollection<string> ids) => ids.ToArray();
}
