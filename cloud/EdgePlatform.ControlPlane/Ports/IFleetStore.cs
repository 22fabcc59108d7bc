using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Ports;

/// <summary>Enrolled devices, their desired and reported twins.</summary>
public interface IDeviceStore
{
    Task<DeviceRecord?> GetDeviceAsync(string deviceId, CancellationToken cancellationToken);

    Task<IReadOnlyList<DeviceRecord>> ListDevicesAsync(CancellationToken cancellationToken);

    /// <summary>Creates the device or, on re-enrollment, replaces its credential and tags.</summary>
    Task UpsertDeviceAsync(DeviceRecord device, CancellationToken cancellationToken);

    /// <summary>
    /// Compare-and-set: stores <paramref name="desired"/> only while the stored desired state still
    /// has version <paramref name="expectedVersion"/> (0: none yet), in one atomic step. False when
    /// another writer changed it first, or the device is gone; nothing is written then.
    /// </summary>
    Task<bool> SaveDesiredAsync(string deviceId, DesiredState desired, long expectedVersion, CancellationToken cancellationToken);

    Task SaveReportedAsync(string deviceId, ReportedState reported, DateTimeOffset receivedAt, CancellationToken cancellationToken);

    Task SaveStatusAsync(string deviceId, string status, DateTimeOffset at, CancellationToken cancellationToken);

    Task SaveAttestationAsync(string deviceId, AttestationStatus attestation, CancellationToken cancellationToken);
}

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
    /// Stores a batch of reports in one transaction, adds the new ones to the per-minute rollups
    /// and marks the device seen. Returns the reports that were new: a (device, sequence) already
    /// stored, or at or below the sequence up to which raw reports were pruned, is skipped.
    /// </summary>
    Task<IReadOnlyList<TelemetryRecord>> AddTelemetryAsync(string deviceId, string kind, IReadOnlyList<TelemetryRecord> records, DateTimeOffset receivedAt, CancellationToken cancellationToken);

    Task<IReadOnlyList<DeviceTelemetrySummary>> SummarizeAsync(string? deviceId, CancellationToken cancellationToken);

    /// <summary>Counts refused telemetry per device and reason, keeping the latest detail.</summary>
    Task AddRejectionAsync(string deviceId, string reason, long count, string detail, DateTimeOffset at, CancellationToken cancellationToken);

    Task<IReadOnlyList<TelemetryRejectionCount>> ListRejectionsAsync(CancellationToken cancellationToken);

    /// <summary>Raw reports or per-minute rollups matching the filter, oldest first.</summary>
    Task<IReadOnlyList<TelemetryPoint>> QueryRawAsync(TelemetryFilter filter, CancellationToken cancellationToken);

    Task<IReadOnlyList<TelemetryMinute>> QueryMinutesAsync(TelemetryFilter filter, CancellationToken cancellationToken);

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

/// <summary>Which telemetry a query wants; null fields match everything. <see cref="DeviceIds"/> null means every device.</summary>
public sealed record TelemetryFilter(
    IReadOnlyCollection<string>? DeviceIds,
    string? ModelName,
    string? ModelVersion,
    DateTimeOffset? From,
    DateTimeOffset? To,
    int Limit);

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
