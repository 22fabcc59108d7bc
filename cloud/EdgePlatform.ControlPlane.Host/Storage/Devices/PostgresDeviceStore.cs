namespace EdgePlatform.ControlPlane.Host.Storage.Devices;

/// <summary>Devices on PostgreSQL.</summary>
public sealed class PostgresDeviceStore(PostgresDatabase database) : DeviceStore(database)
{
    // One text[] parameter however large the fleet, where a list expanded into parameters would
    // hit the protocol's 65,535-parameter limit.
    protected override string IdIsOneOfIds => "id = ANY(@ids)";

    protected override object IdsParameter(IReadOnlyCollection<string> deviceIds) => deviceIds.ToArray();
}
