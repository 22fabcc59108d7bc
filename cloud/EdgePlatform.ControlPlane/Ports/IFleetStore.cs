using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Ports;

/// <summary>Enrolled devices, their desired and reported twins.</summary>
public interface IDeviceStore
{
    Task<DeviceRecord?> GetDeviceAsync(string deviceId, CancellationToken cancellationToken);

    /// <summary>Which of <paramref name="deviceIds"/> are enrolled: one look-up for a whole ingest batch.</summary>
    Task<IReadOnlySet<string>> FindEnrolledAsync(IReadOnlyCollection<string> deviceIds, CancellationToken cancellationToken);

    Task<IReadOnlyList<DeviceRecord>> ListDevicesAsync(CancellationToken cancellationToken);

    /// <summary>
    /// At most <paramref name="limit"/> devices whose ids sort after <paramref name="after"/> (null:
    /// from the first), in id order: one page of a fleet of any size, read by its key.
    /// </summary>
    Task<IReadOnlyList<DeviceRecord>> ListDevicesAfterAsync(string? after, int limit, CancellationToken cancellationToken);

    /// <summary>Creates the device or, on re-enrollment, replaces its credential and tags.</summary>
    Task UpsertDeviceAsync(DeviceRecord device, CancellationToken cancellationToken);

    /// <summary>
    /// Compare-and-set: stores <paramref name="desired"/> only while the stored desired state still
    /// has version <paramref name="expectedVersion"/> (0: none yet), in one atomic step. False when
    /// another writer changed it first, or the device is gone; nothing is written then.
    /// </summary>
    Task<bool> SaveDesiredAsync(string deviceId, DesiredState desired, long expectedVersion, CancellationToken cancellationToken);

    /// <summary>
    /// <see cref="SaveDesiredAsync"/> for many devices in one transaction: each update lands only
    /// while its device's stored desired version is still its expected one. Returns the ids of the
    /// devices whose update landed; the others were changed by another writer, or are gone.
    /// </summary>
    Task<IReadOnlySet<string>> SaveDesiredManyAsync(IReadOnlyList<DesiredUpdate> updates, CancellationToken cancellationToken);

    /// <summary>The stored desired state of each of <paramref name="deviceIds"/> that has one.</summary>
    Task<IReadOnlyDictionary<string, DesiredState>> GetDesiredManyAsync(IReadOnlyCollection<string> deviceIds, CancellationToken cancellationToken);

    Task SaveReportedAsync(string deviceId, ReportedState reported, DateTimeOffset receivedAt, CancellationToken cancellationToken);

    Task SaveStatusAsync(string deviceId, string status, DateTimeOffset at, CancellationToken cancellationToken);

    Task SaveAttestationAsync(string deviceId, AttestationStatus attestation, CancellationToken cancellationToken);
}

/// <summary>One compare-and-set of <see cref="IDeviceStore.SaveDesiredManyAsync"/>.</summary>
public sealed record DesiredUpdate(string DeviceId, DesiredState Desired, long ExpectedVersion);

/// <summary>Published model versions.</summary>
public interface IModelStore
{
    /// <summary>Adds a version; false when that name and version already exist.</summary>
    Task<bool> AddModelAsync(ModelRecord model, CancellationToken cancellationToken);

    /// <summary>The given version, or the newest one when <paramref name="version"/> is null.</summary>
    Task<ModelRecord?> FindModelAsync(string name, string? version, CancellationToken cancellationToken);

    Task<ModelRecord?> FindModelByDigestAsync(string repository, string manifestDigest, CancellationToken cancellationToken);

    Task<IReadOnlyList<ModelRecord>> ListModelsAsync(CancellationToken cancellationToken);

    Task UpdateModelSignatureAsync(string name, string version, string signature, CancellationToken cancellationToken);

    /// <summary>Creates the alias or moves it to <see cref="ModelAlias.Version"/>.</summary>
    Task SetAliasAsync(ModelAlias modelAlias, CancellationToken cancellationToken);

    Task<ModelAlias?> FindAliasAsync(string name, string aliasName, CancellationToken cancellationToken);

    /// <summary>The model's aliases by alias name.</summary>
    Task<IReadOnlyList<ModelAlias>> ListAliasesAsync(string name, CancellationToken cancellationToken);
}

public interface IDeploymentStore
{
    Task AddDeploymentAsync(DeploymentInfo deployment, CancellationToken cancellationToken);

    Task<IReadOnlyList<DeploymentInfo>> ListDeploymentsAsync(CancellationToken cancellationToken);
}

public interface ITelemetryStore
{
    /// <summary>
    /// Stores everything of one ingest batch in one transaction: each device's reports of every
    /// kind (a (device, sequence) already stored under any kind, or at or below the sequence up to which raw reports were
    /// pruned, is skipped and counted as a <see cref="TelemetryRejections.ReplayedSequence"/>
    /// rejection of that device, with <see cref="DeviceTelemetry.DescribeReplays"/> as its detail),
    /// the new reports' per-minute rollups, the given rejections, and the lease (last seen) of every
    /// device with a batch in it. Batches are applied in order, so a sequence repeated within one write is stored once.
    /// Returns, per batch and in the same order, the reports that were new.
    /// </summary>
    Task<IReadOnlyList<StoredTelemetry>> WriteTelemetryAsync(TelemetryWrite write, CancellationToken cancellationToken);

    Task<IReadOnlyList<DeviceTelemetrySummary>> SummarizeAsync(string? deviceId, CancellationToken cancellationToken);

    Task<IReadOnlyList<TelemetryRejectionCount>> ListRejectionsAsync(CancellationToken cancellationToken);

    /// <summary>Raw reports or per-minute rollups matching the filter, oldest first.</summary>
    Task<IReadOnlyList<TelemetryPoint>> QueryRawAsync(TelemetryFilter filter, CancellationToken cancellationToken);

    Task<IReadOnlyList<TelemetryMinute>> QueryMinutesAsync(TelemetryFilter filter, CancellationToken cancellationToken);

    /// <summary>Raw perf records (per model version and arm) matching the filter, oldest first.</summary>
    Task<IReadOnlyList<(string DeviceId, PerfRecord Record)>> QueryPerfAsync(TelemetryFilter filter, CancellationToken cancellationToken);

    /// <summary>
    /// Per-minute perf rollups of the selected devices, one per minute, model version and arm,
    /// merged across the devices, oldest first.
    /// </summary>
    Task<IReadOnlyList<PerfMinute>> QueryPerfMinutesAsync(TelemetryFilter filter, CancellationToken cancellationToken);

    /// <summary>Per-minute quality rollups of the selected devices, one per minute, model version and arm, combined across the devices, oldest first.</summary>
    Task<IReadOnlyList<QualityMinute>> QueryQualityMinutesAsync(TelemetryFilter filter, CancellationToken cancellationToken);

    /// <summary>Raw quality records (per model version and arm) matching the filter, oldest first.</summary>
    Task<IReadOnlyList<(string DeviceId, QualityRecord Record)>> QueryQualityAsync(TelemetryFilter filter, CancellationToken cancellationToken);

    /// <summary>
    /// Totals per device and model version over the per-minute rollups of
    /// <paramref name="deviceIds"/>, from the minute holding <paramref name="windowStart"/> up to
    /// <paramref name="windowEnd"/>: what rollout gates read over a bake window.
    /// </summary>
    Task<IReadOnlyList<TelemetryWindowTotal>> SummarizeWindowAsync(IReadOnlyCollection<string> deviceIds, DateTimeOffset windowStart, DateTimeOffset windowEnd, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes raw reports received before <paramref name="rawBefore"/> (their rollups stay) and
    /// rollups before <paramref name="rollupsBefore"/>. Returns the raw reports deleted.
    /// </summary>
    Task<long> PruneTelemetryAsync(DateTimeOffset rawBefore, DateTimeOffset rollupsBefore, CancellationToken cancellationToken);
}

/// <summary>
/// One device's telemetry on one model version over a window of per-minute rollups.
/// <see cref="LatencyP99Ms"/> is the minutes' p99 (each minute's highest) weighted by the events
/// each minute scored, 0 when none were scored.
/// </summary>
public sealed record TelemetryWindowTotal(
    string DeviceId,
    string? ModelName,
    string? ModelVersion,
    long Minutes,
    long EventsScored,
    long Errors,
    double LatencyP99Ms);
/// <summary>Single writes on <see cref="ITelemetryStore"/>, for callers outside the ingest pipeline.</summary>
public static class TelemetryStoreExtensions
{
    /// <summary>One device's batch on its own: <see cref="ITelemetryStore.WriteTelemetryAsync"/> with nothing else in it.</summary>
    public static async Task<IReadOnlyList<TelemetryRecord>> AddTelemetryAsync(
        this ITelemetryStore store, string deviceId, string kind, IReadOnlyList<TelemetryRecord> records, DateTimeOffset receivedAt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        var stored = await store.WriteTelemetryAsync(new TelemetryWrite(receivedAt, [new DeviceTelemetry(deviceId, kind, records)], []), cancellationToken).ConfigureAwait(false);
        return stored[0].Health;
    }

    /// <summary>Counts refused telemetry per device and reason, keeping the latest detail.</summary>
    public static Task AddRejectionAsync(this ITelemetryStore store, string deviceId, string reason, long count, string detail, DateTimeOffset at, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        return store.WriteTelemetryAsync(new TelemetryWrite(at, [], [new TelemetryRejection(deviceId, reason, count, detail)]), cancellationToken);
    }
}

/// <summary>What one ingest transaction stores: reports per device and kind, and refusals, all received at <paramref name="ReceivedAt"/>.</summary>
public sealed record TelemetryWrite(DateTimeOffset ReceivedAt, IReadOnlyList<DeviceTelemetry> Batches, IReadOnlyList<TelemetryRejection> Rejections);

/// <summary>
/// One message's reports, as its device sent them: health reports in <see cref="Records"/>, or
/// per-version records of <see cref="Perf"/> or <see cref="Quality"/>, as <see cref="Kind"/> says.
/// </summary>
public sealed record DeviceTelemetry(string DeviceId, string Kind, IReadOnlyList<TelemetryRecord> Records)
{
    public IReadOnlyList<PerfRecord> Perf { get; init; } = [];

    public IReadOnlyList<QualityRecord> Quality { get; init; } = [];

    /// <summary>Records of every kind in the message.</summary>
    public int Count => Records.Count + Perf.Count + Quality.Count;

    /// <summary>The detail a store records when <paramref name="replayed"/> of these reports were already stored.</summary>
    public string DescribeReplays(int replayed)
    {
        var sequences = Records.Select(r => r.Sequence).Concat(Perf.Select(r => r.Sequence)).Concat(Quality.Select(r => r.Sequence)).ToList();
        return sequences.Count == 0
            ? $"{replayed} already ingested"
            : $"sequences {sequences.Min()}..{sequences.Max()} held {replayed} already ingested";
    }
}

/// <summary>The records of one <see cref="DeviceTelemetry"/> that were new and stored.</summary>
public sealed record StoredTelemetry(IReadOnlyList<TelemetryRecord> Health, IReadOnlyList<PerfRecord> Perf, IReadOnlyList<QualityRecord> Quality)
{
    public int Count => Health.Count + Perf.Count + Quality.Count;
}

/// <summary>Refused telemetry of one device: <paramref name="Count"/> more under <paramref name="Reason"/>.</summary>
public sealed record TelemetryRejection(string DeviceId, string Reason, long Count, string Detail);

/// <summary>Which telemetry a query wants; null fields match everything. <see cref="DeviceIds"/> null means every device.</summary>
public sealed record TelemetryFilter(
    IReadOnlyCollection<string>? DeviceIds,
    string? ModelName,
    string? ModelVersion,
    DateTimeOffset? From,
    DateTimeOffset? To,
    int Limit)
{
    /// <summary>The experiment arm (perf and quality only); null matches both.</summary>
    public string? Arm { get; init; }
}

public interface ITrainingStore
{
    Task AddDatasetAsync(DatasetInfo dataset, CancellationToken cancellationToken);

    Task<DatasetInfo?> GetDatasetAsync(string name, CancellationToken cancellationToken);

    Task<IReadOnlyList<DatasetInfo>> ListDatasetsAsync(CancellationToken cancellationToken);

    Task SaveTrainingRunAsync(TrainingRunInfo run, CancellationToken cancellationToken);

    Task<TrainingRunInfo?> GetTrainingRunAsync(string id, CancellationToken cancellationToken);

    Task<IReadOnlyList<TrainingRunInfo>> ListTrainingRunsAsync(CancellationToken cancellationToken);
}

/// <summary>Enrollment groups; their keys are kept, since device keys are derived from them.</summary>
public interface IEnrollmentGroupStore
{
    Task AddGroupAsync(EnrollmentGroupRecord group, CancellationToken cancellationToken);

    Task<IReadOnlyList<EnrollmentGroupRecord>> ListGroupsAsync(CancellationToken cancellationToken);

    /// <summary>False when there is no such group.</summary>
    Task<bool> RevokeGroupAsync(string id, DateTimeOffset at, CancellationToken cancellationToken);
}

public sealed record EnrollmentGroupRecord(string Id, string Name, string Key, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt)
{
    public EnrollmentGroupInfo ToInfo(bool withKey = false) => new(Id, Name, CreatedAt, RevokedAt, withKey ? Key : null);
}
