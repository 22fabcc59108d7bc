using System.Reflection;
using Dapper;
using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage;

/// <summary>
/// Enrolled devices for telemetry tests, written straight into the devices table so the telemetry
/// contract runs on a database whose device adapter is not the subject; the ingest service reads
/// enrolment through <see cref="EnrolmentOnly"/>.
/// </summary>
internal static class TelemetryTestDevices
{
    public static async Task EnrollAsync(StoreDatabase database, string deviceId, DateTimeOffset at)
    {
        await using var connection = await database.OpenAsync(CancellationToken.None);
        await connection.ExecuteAsync(
            "INSERT INTO devices (id, tags, certificate_thumbprint, enrolled_at, status) VALUES (@deviceId, '{}', 'h', @at, 'online')",
            new { deviceId, at = StoreValues.Time(at) });
    }

    /// <summary>When the device was last seen, as the devices table holds it.</summary>
    public static async Task<DateTimeOffset?> LastSeenAsync(StoreDatabase database, string deviceId)
    {
        await using var connection = await database.OpenAsync(CancellationToken.None);
        var text = await connection.ExecuteScalarAsync<string?>("SELECT last_seen FROM devices WHERE id = @deviceId", new { deviceId });
        return text is null ? null : StoreValues.ParseTime(text);
    }

    /// <summary>An <see cref="IDeviceStore"/> that answers only <see cref="IDeviceStore.FindEnrolledAsync"/>, from the devices table.</summary>
    public static IDeviceStore EnrolmentOnly(StoreDatabase database)
    {
        var store = DispatchProxy.Create<IDeviceStore, EnrolmentProxy>();
        ((EnrolmentProxy)(object)store).Database = database;
        return store;
    }

#pragma warning disable CA1852 // DispatchProxy derives from it.
    internal class EnrolmentProxy : DispatchProxy
#pragma warning restore CA1852
    {
        public StoreDatabase Database { get; set; } = null!;

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
            targetMethod?.Name == nameof(IDeviceStore.FindEnrolledAsync)
                ? FindAsync((IReadOnlyCollection<string>)args![0]!)
                : throw new NotSupportedException($"{targetMethod?.Name} is not part of what telemetry tests need");

        private async Task<IReadOnlySet<string>> FindAsync(IReadOnlyCollection<string> deviceIds)
        {
            await using var connection = await Database.OpenAsync(CancellationToken.None);
            var enrolled = await connection.QueryAsync<string>("SELECT id FROM devices");
            return enrolled.Where(deviceIds.Contains).ToHashSet(StringComparer.Ordinal);
        }
    }
}
