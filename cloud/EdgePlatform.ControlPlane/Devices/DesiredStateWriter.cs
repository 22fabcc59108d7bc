using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.Logging;

namespace EdgePlatform.ControlPlane.Devices;

/// <summary>
/// The one way a device's desired state changes: re-read, bump the version, compare-and-set it in
/// the store, publish retained. The compare-and-set is what keeps versions strictly growing per
/// device when several control-plane replicas (or deployments and rollouts in one) write at once:
/// a writer that lost the race reads again and writes on top of the winner.
/// </summary>
public sealed partial class DesiredStateWriter(IDeviceStore devices, IDeviceLink link, ILogger<DesiredStateWriter> logger) : IDisposable
{
    /// <summary>
    /// Each conflict means another writer's version landed, so the loop always makes progress;
    /// the bound only turns a store that never accepts a write into an error.
    /// </summary>
    public const int MaxAttempts = 64;

    // Writers of this process queue here instead of losing compare-and-sets to each other.
    private readonly SemaphoreSlim _writer = new(1, 1);

    /// <summary>
    /// Points the device at <paramref name="deployment"/> (null: no model) with the next version,
    /// keeping its telemetry settings (or <paramref name="defaultTelemetry"/> for its first document).
    /// Returns the document published and the model it pointed at before; null when the device is gone.
    /// </summary>
    public Task<(DesiredState Desired, ModelReference? Previous)?> WriteAsync(
        string deviceId, DeploymentSpec? deployment, TelemetrySettings defaultTelemetry, CancellationToken cancellationToken) =>
        WriteAsync(deviceId, deployment, defaultTelemetry, _ => true, cancellationToken);

    /// <summary>
    /// As <see cref="WriteAsync(string, DeploymentSpec?, TelemetrySettings, CancellationToken)"/>, but only
    /// while <paramref name="only"/> holds for the device's current desired state (null before its
    /// first): checked on the version the compare-and-set replaces, so a writer that got in between
    /// is judged too. Null when the device is gone or the condition does not hold.
    /// </summary>
    public async Task<(DesiredState Desired, ModelReference? Previous)?> WriteAsync(
        string deviceId, DeploymentSpec? deployment, TelemetrySettings defaultTelemetry, Func<DesiredState?, bool> only, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(only);
        await _writer.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            for (var attempt = 1; attempt <= MaxAttempts; attempt++)
            {
                var current = await devices.GetDeviceAsync(deviceId, cancellationToken).ConfigureAwait(false);
                if (current is null || !only(current.Desired))
                {
                    return null;
                }

                var expected = current.Desired?.Version ?? 0;
                var desired = new DesiredState(expected + 1, deployment, current.Desired?.Telemetry ?? defaultTelemetry);
                if (!await devices.SaveDesiredAsync(deviceId, desired, expected, cancellationToken).ConfigureAwait(false))
                {
                    LogConflict(deviceId, expected, attempt);
                    continue;
                }

                await PublishLatestAsync(deviceId, desired, cancellationToken).ConfigureAwait(false);
                return (desired, current.Desired?.Deployment?.Model);
            }

            throw new ConflictException($"the desired state of device '{deviceId}' changed under {MaxAttempts} writes in a row; nothing was written, try again");
        }
        finally
        {
            _writer.Release();
        }
    }

    public void Dispose() => _writer.Dispose();

    /// <summary>
    /// Publishes <paramref name="desired"/>, then re-reads: another replica's newer version may
    /// have been published before this one reached the broker, which would leave an older
    /// document retained. Whoever publishes last has re-read after every version stored before
    /// it, so the retained document ends as the newest one.
    /// </summary>
    private async Task PublishLatestAsync(string deviceId, DesiredState desired, CancellationToken cancellationToken)
    {
        var published = desired;
        while (true)
        {
            await link.PublishDesiredAsync(deviceId, published, cancellationToken).ConfigureAwait(false);
            var stored = (await devices.GetDeviceAsync(deviceId, cancellationToken).ConfigureAwait(false))?.Desired;
            if (stored is null || stored.Version <= published.Version)
            {
                return;
            }

            LogOvertaken(deviceId, published.Version, stored.Version);
            published = stored;
        }
    }

    [LoggerMessage(EventId = 140, Level = LogLevel.Debug, Message = "Desired state of device {DeviceId} moved past version {Expected} while writing (attempt {Attempt}); writing on top of it")]
    private partial void LogConflict(string deviceId, long expected, int attempt);

    [LoggerMessage(EventId = 141, Level = LogLevel.Debug, Message = "Desired version {Published} of device {DeviceId} was overtaken by {Stored} before it was published; publishing the newer one again")]
    private partial void LogOvertaken(string deviceId, long published, long stored);
}
