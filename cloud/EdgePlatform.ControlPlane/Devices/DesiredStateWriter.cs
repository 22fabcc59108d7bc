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

    /// <summary>Most retained publishes one batched write keeps waiting on the broker at once.</summary>
    public const int MaxPublishesInFlight = 64;

    // Writers of this process queue here instead of losing compare-and-sets to each other.
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
            return await WriteLockedAsync(deviceId, deployment, defaultTelemetry, static _ => true, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writer.Release();
        }
    }

    /// <summary>
    /// <see cref="WriteAsync(string, DeploymentSpec?, TelemetrySettings, CancellationToken)"/>
    /// for many devices at once, each only while its <see cref="DesiredWrite.Only"/> holds (checked
    /// on the version the compare-and-set replaces, so a writer that got in between is judged
    /// too), as a stage opening, a rollback or a fleet-wide deployment needs: every device's next version is compared-and-set in one store transaction against the record
    /// the caller read, the documents are published concurrently (at most
    /// <see cref="MaxPublishesInFlight"/> at a time), and the devices are re-read together
    /// afterwards. A device another writer changed since the caller's read, or whose record as read
    /// fails <see cref="DesiredWrite.Only"/>, goes through the one-device path, which reads it
    /// again. Results come in the order of <paramref name="writes"/>; null where the device is gone
    /// or the condition does not hold.
    /// </summary>
    public async Task<IReadOnlyList<(DesiredState Desired, ModelReference? Previous)?>> WriteManyAsync(
        IReadOnlyList<DesiredWrite> writes, TelemetrySettings defaultTelemetry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(writes);
        var results = new (DesiredState Desired, ModelReference? Previous)?[writes.Count];
        if (writes.Count == 0)
        {
            return results;
        }

        await _writer.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var batched = new List<(int Index, DesiredUpdate Update)>(writes.Count);
            for (var i = 0; i < writes.Count; i++)
            {
                var known = writes[i].Known;
                if (writes[i].Only(known.Desired))
                {
                    var expected = known.Desired?.Version ?? 0;
                    batched.Add((i, new DesiredUpdate(known.Id, new DesiredState(expected + 1, writes[i].Deployment, known.Desired?.Telemetry ?? defaultTelemetry), expected)));
                }
            }

            var landed = await devices.SaveDesiredManyAsync([.. batched.Select(b => b.Update)], cancellationToken).ConfigureAwait(false);
            var stored = new List<DesiredUpdate>(landed.Count);
            foreach (var (index, update) in batched.Where(b => landed.Contains(b.Update.DeviceId)))
            {
                results[index] = (update.Desired, writes[index].Known.Desired?.Deployment?.Model);
                stored.Add(update);
            }

            await PublishManyAsync(stored, cancellationToken).ConfigureAwait(false);

            // What the caller read was out of date for these (or judged them on an old version): read again, one at a time.
            var retried = 0;
            for (var i = 0; i < writes.Count; i++)
            {
                if (results[i] is null)
                {
                    retried++;
                    results[i] = await WriteLockedAsync(writes[i].Known.Id, writes[i].Deployment, defaultTelemetry, writes[i].Only, cancellationToken).ConfigureAwait(false);
                }
            }

            if (retried > 0)
            {
                LogReadAgain(retried, writes.Count);
            }

            return results;
        }
        finally
        {
            _writer.Release();
        }
    }

    public void Dispose() => _writer.Dispose();

    private async Task<(DesiredState Desired, ModelReference? Previous)?> WriteLockedAsync(
        string deviceId, DeploymentSpec? deployment, TelemetrySettings defaultTelemetry, Func<DesiredState?, bool> only, CancellationToken cancellationToken)
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

    /// <summary>
    /// Publishes each stored document, then re-reads them together; any device whose stored
    /// version moved past the one published goes through <see cref="PublishLatestAsync"/>, so the
    /// retained document ends as the newest one, as for a single write.
    /// </summary>
    private async Task PublishManyAsync(List<DesiredUpdate> stored, CancellationToken cancellationToken)
    {
        if (stored.Count == 0)
        {
            return;
        }

        await Parallel.ForEachAsync(
            stored,
            new ParallelOptions { MaxDegreeOfParallelism = MaxPublishesInFlight, CancellationToken = cancellationToken },
            async (update, ct) => await link.PublishDesiredAsync(update.DeviceId, update.Desired, ct).ConfigureAwait(false)).ConfigureAwait(false);
        var now = await devices.GetDesiredManyAsync([.. stored.Select(u => u.DeviceId)], cancellationToken).ConfigureAwait(false);
        foreach (var update in stored)
        {
            if (now.TryGetValue(update.DeviceId, out var newer) && newer.Version > update.Desired.Version)
            {
                LogOvertaken(update.DeviceId, update.Desired.Version, newer.Version);
                await PublishLatestAsync(update.DeviceId, newer, cancellationToken).ConfigureAwait(false);
            }
        }
    }

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

    [LoggerMessage(EventId = 142, Level = LogLevel.Debug, Message = "{Count} of {Total} devices of a batched desired-state write were read again and written one by one: they had moved since the caller read them")]
    private partial void LogReadAgain(int count, int total);

    [LoggerMessage(EventId = 141, Level = LogLevel.Debug, Message = "Desired version {Published} of device {DeviceId} was overtaken by {Stored} before it was published; publishing the newer one again")]
    private partial void LogOvertaken(string deviceId, long published, long stored);
}

/// <summary>
/// One device of <see cref="DesiredStateWriter.WriteManyAsync"/>: the record the caller read (its
/// desired version is what the compare-and-set expects), the deployment to point it at (null: no
/// model), and the condition its current desired state must meet.
/// </summary>
public sealed record DesiredWrite(DeviceRecord Known, DeploymentSpec? Deployment, Func<DesiredState?, bool> Only)
{
    public DesiredWrite(DeviceRecord known, DeploymentSpec? deployment)
        : this(known, deployment, static _ => true)
    {
    }
}
