using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Tests.Fakes;

/// <summary>
/// A device store that hands every call to <paramref name="inner"/>; a test overrides what it
/// wants to disturb. Batched desired-state writes go one at a time through
/// <see cref="SaveDesiredAsync"/>, so an override there meets every write. Linked into the host
/// tests too.
/// </summary>
internal abstract class ForwardingDeviceStore(IDeviceStore inner) : IDeviceStore
{
    protected IDeviceStore Inner => inner;

    public virtual Task<DeviceRecord?> GetDeviceAsync(string deviceId, CancellationToken cancellationToken) => inner.GetDeviceAsync(deviceId, cancellationToken);

    public virtual Task<IReadOnlyList<DeviceRecord>> ListDevicesAsync(CancellationToken cancellationToken) => inner.ListDevicesAsync(cancellationToken);

    public virtual Task<IReadOnlyList<DeviceRecord>> ListDevicesAfterAsync(string? after, int limit, CancellationToken cancellationToken) =>
        inner.ListDevicesAfterAsync(after, limit, cancellationToken);

    public virtual Task<IReadOnlySet<string>> FindEnrolledAsync(IReadOnlyCollection<string> deviceIds, CancellationToken cancellationToken) =>
        inner.FindEnrolledAsync(deviceIds, cancellationToken);

    public virtual Task UpsertDeviceAsync(DeviceRecord device, CancellationToken cancellationToken) => inner.UpsertDeviceAsync(device, cancellationToken);

    public virtual Task<bool> SaveDesiredAsync(string deviceId, DesiredState desired, long expectedVersion, CancellationToken cancellationToken) =>
        inner.SaveDesiredAsync(deviceId, desired, expectedVersion, cancellationToken);

    public Task<IReadOnlySet<string>> SaveDesiredManyAsync(IReadOnlyList<DesiredUpdate> updates, CancellationToken cancellationToken) =>
        SaveOneAtATimeAsync(this, updates, cancellationToken);

    public virtual Task<IReadOnlyDictionary<string, DesiredState>> GetDesiredManyAsync(IReadOnlyCollection<string> deviceIds, CancellationToken cancellationToken) =>
        inner.GetDesiredManyAsync(deviceIds, cancellationToken);

    public virtual Task SaveReportedAsync(string deviceId, ReportedState reported, DateTimeOffset receivedAt, CancellationToken cancellationToken) =>
        inner.SaveReportedAsync(deviceId, reported, receivedAt, cancellationToken);

    public virtual Task SaveStatusAsync(string deviceId, string status, DateTimeOffset at, CancellationToken cancellationToken) =>
        inner.SaveStatusAsync(deviceId, status, at, cancellationToken);

    public virtual Task SaveAttestationAsync(string deviceId, AttestationStatus attestation, CancellationToken cancellationToken) =>
        inner.SaveAttestationAsync(deviceId, attestation, cancellationToken);

    /// <summary><see cref="IDeviceStore.SaveDesiredManyAsync"/> as a loop over <paramref name="store"/>'s single compare-and-set.</summary>
    public static async Task<IReadOnlySet<string>> SaveOneAtATimeAsync(IDeviceStore store, IReadOnlyList<DesiredUpdate> updates, CancellationToken cancellationToken)
    {
        var landed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var update in updates)
        {
            if (await store.SaveDesiredAsync(update.DeviceId, update.Desired, update.ExpectedVersion, cancellationToken))
            {
                landed.Add(update.DeviceId);
            }
        }

        return landed;
    }
}
