using EdgePlatform.Contracts;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage.Devices;

/// <summary>Devices in the SQLite file.</summary>
public sealed class SqliteDeviceStore(SqliteDatabase database) : DeviceStore(database)
{
    // SQLite takes at most 32,766 parameters in one statement; a JSON array is one parameter
    // however large the fleet.
    protected override string IdIsOneOfIds => "id IN (SELECT value FROM json_each(@ids))";

    protected override object IdsParameter(IReadOnlyCollection<string> deviceIds) =>
        Json(deviceIds.ToList(), ContractsJsonContext.Default.ListString);
}
