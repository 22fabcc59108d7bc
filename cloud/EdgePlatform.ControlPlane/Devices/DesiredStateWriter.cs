using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Devices;

/// <summary>
/// The one way a device's desired state changes: re-read, bump the version, store, publish
/// retained. Deployments and rollouts both write through it, so versions grow strictly per
/// device even when both act at once.
/// </summary>
public sealed class DesiredStateWriter(IDeviceStore devices, IDeviceLink link) : IDisposable
{
    private readonly SemaphoreSlim _writer = new(1, 1);

    /// <summary>
    /// Points the device at <paramref name="deployment"/> (null: no model) with the next version,
    /// keeping its telemetry settings (or <paramref name="defaultTelemetry"/> for its first document).
    /// Returns the document published and the model it pointed at before; null when the device is gone.
    /// </summary>
    public async Task<(DesiredState Desired, ModelReference? Previous)?> WriteAsync(
        string deviceId, DeploymentSpec? deployment, TelemetrySettings defaultTelemetry, CancellationToken cancellationToken)
    {
        await _writer.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var current = await devices.GetDeviceAsync(deviceId, cancellationToken).ConfigureAwait(false);
            if (current is null)
            {
                return null;
            }

            var desired = new DesiredState((current.Desired?.Version ?? 0) + 1, deployment, current.Desired?.Telemetry ?? defaultTelemetry);
            await devices.SaveDesiredAsync(deviceId, desired, cancellationToken).ConfigureAwait(false);
            await link.PublishDesiredAsync(deviceId, desired, cancellationToken).ConfigureAwait(false);
            return (desired, current.Desired?.Deployment?.Model);
        }
        finally
        {
            _writer.Release();
        }
    }

    public void Dispose() => _writer.Dispose();
}
