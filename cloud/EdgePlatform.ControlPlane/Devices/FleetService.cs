using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Devices;

/// <summary>
/// The operator's view of devices, and what devices report about themselves. A device counts as
/// online while its lease holds: every message it sends (status, twin, telemetry — telemetry is
/// its heartbeat) renews it, and it lapses after <see cref="LeaseIntervals"/> heartbeat
/// intervals of silence, so a device that vanished without its broker will firing is still
/// shown offline.
/// </summary>
public sealed partial class FleetService(
    IDeviceStore store,
    IDeviceSessions sessions,
    IOptions<EnrollmentOptions> options,
    TimeProvider timeProvider,
    ILogger<FleetService> logger)
{
    public const int LeaseIntervals = 2;

    /// <summary>
    /// Shuts a device out: its broker credential stops working, its open session is closed,
    /// and it cannot enroll again under the same id.
    /// </summary>
    public async Task<DeviceInfo> RevokeAsync(string deviceId, string revokedBy, CancellationToken cancellationToken)
    {
        var device = await FindAsync(deviceId, cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException($"device '{deviceId}' is not enrolled");
        await store.SaveStatusAsync(deviceId, DeviceStatuses.Revoked, timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        await sessions.CloseAsync(deviceId, cancellationToken).ConfigureAwait(false);
        LogRevoked(deviceId, revokedBy);
        return ToInfo(device with { Status = DeviceStatuses.Revoked });
    }

    /// <summary>
    /// Replaces a device's tags (what rollout selectors match on). The device's next enrollment
    /// replaces them again with what it presents.
    /// </summary>
    public async Task<DeviceInfo> SetTagsAsync(string deviceId, SetTagsRequest? request, string changedBy, CancellationToken cancellationToken)
    {
        if (request?.Tags is null)
        {
            throw new RequestValidationException("tags", "expected a JSON object {\"tags\": {\"key\": \"value\", ...}}");
        }

        var tags = DeviceTags.Validate(request.Tags);
        var device = await FindAsync(deviceId, cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException($"device '{deviceId}' is not enrolled");
        var updated = device with { Tags = tags };
        await store.UpsertDeviceAsync(updated, cancellationToken).ConfigureAwait(false);
        LogTagsSet(deviceId, tags.Count, changedBy);
        return ToInfo(updated);
    }

    public async Task<IReadOnlyList<DeviceInfo>> ListAsync(CancellationToken cancellationToken)
    {
        var devices = await store.ListDevicesAsync(cancellationToken).ConfigureAwait(false);
        return [.. devices.Select(ToInfo)];
    }

    /// <summary>Most devices one page shows.</summary>
    public const int MaxPageSize = 500;

    /// <summary>
    /// One page of the devices a selector matches (all of them without one), in id order, read from
    /// the store a slice at a time by key, so a page costs the same at ten devices or ten thousand.
    /// </summary>
    public async Task<DevicePage> PageAsync(string? selector, string? after, int limit, CancellationToken cancellationToken)
    {
        if (limit is < 1 or > MaxPageSize)
        {
            throw new RequestValidationException("limit", $"must be between 1 and {MaxPageSize}");
        }

        var filter = string.IsNullOrWhiteSpace(selector) ? null : Rollouts.Selector.ParseRequestField(selector);

        // Unfiltered, one row more than the page says whether another page follows.
        var slice = filter is null ? limit + 1 : Math.Max(limit * 4, 500);
        var page = new List<DeviceInfo>(limit);
        var cursor = string.IsNullOrEmpty(after) ? null : after;
        while (true)
        {
            var devices = await store.ListDevicesAfterAsync(cursor, slice, cancellationToken).ConfigureAwait(false);
            var read = 0;
            for (; read < devices.Count && page.Count < limit; read++)
            {
                cursor = devices[read].Id;
                if (filter is null || filter.Matches(devices[read].Tags))
                {
                    page.Add(ToInfo(devices[read]));
                }
            }

            if (devices.Count < slice && read == devices.Count)
            {
                return new DevicePage(page, null);
            }

            if (page.Count == limit)
            {
                return new DevicePage(page, cursor);
            }
        }
    }

    public async Task<DeviceInfo> GetAsync(string deviceId, CancellationToken cancellationToken)
    {
        var device = await FindAsync(deviceId, cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException($"device '{deviceId}' is not enrolled");
        return ToInfo(device);
    }

    public async Task<DeviceRecord?> FindAsync(string deviceId, CancellationToken cancellationToken) =>
        DeviceIds.IsValid(deviceId) ? await store.GetDeviceAsync(deviceId, cancellationToken).ConfigureAwait(false) : null;

    /// <summary>Stores a device's reported twin; malformed documents are logged and dropped.</summary>
    public async Task HandleReportedAsync(string deviceId, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        ReportedState? reported;
        try
        {
            reported = JsonSerializer.Deserialize(payload.Span, ContractsJsonContext.Default.ReportedState);
        }
        catch (JsonException ex)
        {
            LogMalformedReported(deviceId, ex.Message);
            return;
        }

        if (reported is null || reported.Slots is null)
        {
            LogMalformedReported(deviceId, "document is null or has no slots");
            return;
        }

        if (await store.GetDeviceAsync(deviceId, cancellationToken).ConfigureAwait(false) is null)
        {
            LogUnknownDevice(deviceId, "twin/reported");
            return;
        }

        await store.SaveReportedAsync(deviceId, reported, timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        LogReported(deviceId, reported.DesiredVersion, reported.LastError ?? "none");
    }

    /// <summary>Records a device's online/offline status (its own message or its broker will).</summary>
    public async Task HandleStatusAsync(string deviceId, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var status = System.Text.Encoding.UTF8.GetString(payload.Span).Trim();
        if (status is not (DeviceStatuses.Online or DeviceStatuses.Offline))
        {
            LogMalformedStatus(deviceId, status.Length > 32 ? status[..32] : status);
            return;
        }

        var device = await store.GetDeviceAsync(deviceId, cancellationToken).ConfigureAwait(false);
        if (device is null)
        {
            LogUnknownDevice(deviceId, "status");
            return;
        }

        if (device.Status == DeviceStatuses.Revoked)
        {
            // Its broker will "offline" arrives after the revocation closed the session.
            return;
        }

        await store.SaveStatusAsync(deviceId, status, timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        LogStatus(deviceId, status);
    }

    /// <summary>The stored status, except that an online device whose lease lapsed shows as offline.</summary>
    public string EffectiveStatus(DeviceRecord device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (device.Status != DeviceStatuses.Online || device.LastSeen is not { } seen)
        {
            return device.Status;
        }

        var interval = TimeSpan.FromSeconds(device.Desired?.Telemetry.IntervalSeconds ?? options.Value.TelemetryIntervalSeconds);
        return timeProvider.GetUtcNow() - seen > interval * LeaseIntervals ? DeviceStatuses.Offline : DeviceStatuses.Online;
    }

    private DeviceInfo ToInfo(DeviceRecord device) =>
        new(
            device.Id,
            device.Tags,
            EffectiveStatus(device),
            device.EnrolledAt,
            device.LastSeen,
            device.Desired?.Version ?? 0,
            device.Desired?.Deployment?.Model.ManifestDigest,
            device.Reported,
            device.Attestation);

    [LoggerMessage(EventId = 115, Level = LogLevel.Warning, Message = "Device {DeviceId} revoked by {RevokedBy}")]
    private partial void LogRevoked(string deviceId, string revokedBy);

    [LoggerMessage(EventId = 116, Level = LogLevel.Information, Message = "Device {DeviceId}: {Count} tag(s) set by {ChangedBy}")]
    private partial void LogTagsSet(string deviceId, int count, string changedBy);

    [LoggerMessage(EventId = 110, Level = LogLevel.Warning, Message = "Dropped malformed twin/reported from device {DeviceId}: {Reason}")]
    private partial void LogMalformedReported(string deviceId, string reason);

    [LoggerMessage(EventId = 111, Level = LogLevel.Warning, Message = "Dropped {Topic} message from unknown device {DeviceId}")]
    private partial void LogUnknownDevice(string deviceId, string topic);

    [LoggerMessage(EventId = 112, Level = LogLevel.Information, Message = "Device {DeviceId} reported desired version {DesiredVersion}, last error: {LastError}")]
    private partial void LogReported(string deviceId, long desiredVersion, string lastError);

    [LoggerMessage(EventId = 113, Level = LogLevel.Warning, Message = "Dropped malformed status '{Status}' from device {DeviceId}")]
    private partial void LogMalformedStatus(string deviceId, string status);

    [LoggerMessage(EventId = 114, Level = LogLevel.Information, Message = "Device {DeviceId} is {Status}")]
    private partial void LogStatus(string deviceId, string status);
}

/// <summary>A page of devices; <see cref="NextAfter"/> is the <c>after</c> of the next page, null on the last.</summary>
public sealed record DevicePage(IReadOnlyList<DeviceInfo> Devices, string? NextAfter);
