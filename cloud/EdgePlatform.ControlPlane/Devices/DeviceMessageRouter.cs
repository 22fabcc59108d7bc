using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Telemetry;
using Microsoft.Extensions.Logging;

namespace EdgePlatform.ControlPlane.Devices;

/// <summary>Routes messages that devices publish under <c>devices/{id}/...</c> to their handlers.</summary>
public sealed partial class DeviceMessageRouter(
    FleetService fleet,
    TelemetryIngestService telemetry,
    ILogger<DeviceMessageRouter> logger)
{
    public const string ReportedSuffix = "twin/reported";
    public const string StatusSuffix = "status";
    public const string TelemetryPrefix = "telemetry/";

    public async Task RouteAsync(string topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        if (!Topics.TryParseDeviceTopic(topic, out var deviceId, out var rest) || !DeviceIds.IsValid(deviceId))
        {
            LogUnroutable(topic);
            return;
        }

        if (string.Equals(rest, ReportedSuffix, StringComparison.Ordinal))
        {
            await fleet.HandleReportedAsync(deviceId, payload, cancellationToken).ConfigureAwait(false);
        }
        else if (string.Equals(rest, StatusSuffix, StringComparison.Ordinal))
        {
            await fleet.HandleStatusAsync(deviceId, payload, cancellationToken).ConfigureAwait(false);
        }
        else if (rest.StartsWith(TelemetryPrefix, StringComparison.Ordinal))
        {
            await telemetry.IngestAsync(deviceId, rest[TelemetryPrefix.Length..], payload, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            LogUnroutable(topic);
        }
    }

    [LoggerMessage(EventId = 120, Level = LogLevel.Debug, Message = "No handler for topic {Topic}")]
    private partial void LogUnroutable(string topic);
}
