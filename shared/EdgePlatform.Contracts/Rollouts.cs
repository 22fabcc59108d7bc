namespace EdgePlatform.Contracts;

/// <summary>
/// Body of <c>POST /api/v1/rollouts</c>. <see cref="Model"/> is <c>name</c> (newest version) or
/// <c>name:version</c>; <see cref="Selector"/> picks devices by tags (<c>site=berlin and hw in (pi4,pi5)</c>).
/// Where running rollouts select the same device, the highest <see cref="Priority"/> decides
/// its model (the newer rollout on a tie).
/// </summary>
public sealed record CreateRolloutRequest(
    string? Model,
    string? Selector,
    int? Priority,
    IReadOnlyList<RolloutStage>? Stages,
    RolloutGates? Gates,
    int? DeviceTimeoutSeconds = null);

/// <summary>
/// One stage: the devices it reaches, cumulative, as <see cref="Percent"/> of the selected devices
/// or as a <see cref="Count"/> of them (exactly one of the two), then how long it bakes before
/// the gates are read.
/// </summary>
public sealed record RolloutStage(double? Percent, int? Count, int BakeSeconds);

/// <summary>
/// Health gates. Failure percentage aborts at once, but only after <see cref="MinDevices"/> devices
/// have finished (as AWS IoT abort thresholds); the others are read at the end of each bake from
/// telemetry of devices on the new version. Null switches a gate off.
/// </summary>
public sealed record RolloutGates(
    double? MaxFailurePercent = null,
    int? MinDevices = null,
    double? MaxErrorRate = null,
    long? MinEventsScored = null,
    double? MaxP99Regression = null,
    bool RequireAttestation = false);

public sealed record RolloutInfo(
    string Id,
    ModelReference Model,
    string Selector,
    int Priority,
    IReadOnlyList<RolloutStage> Stages,
    RolloutGates Gates,
    int DeviceTimeoutSeconds,
    string State,
    int CurrentStage,
    DateTimeOffset StageStartedAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    string? Reason,
    IReadOnlyList<RolloutDevice> Devices)
{
    /// <summary>How many devices are in each state, for status views.</summary>
    public IReadOnlyDictionary<string, int> Counts =>
        Devices.GroupBy(d => d.State, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
}

/// <summary>
/// A device's part in a rollout: the stage its position puts it in, where it is, and the model it
/// had before (null when it had none), which a rollback restores.
/// </summary>
public sealed record RolloutDevice(
    string DeviceId,
    int Stage,
    string State,
    ModelReference? Previous,
    string? Reason,
    DateTimeOffset Since,
    long DesiredVersion = 0);

public static class RolloutStates
{
    public const string Running = "running";
    public const string Paused = "paused";
    public const string Completed = "completed";
    public const string Aborted = "aborted";
    public const string RolledBack = "rolled-back";
}

public static class RolloutDeviceStates
{
    /// <summary>Selected; its stage has not started.</summary>
    public const string Pending = "pending";

    /// <summary>Its desired state names the new version; it has not reported it active yet.</summary>
    public const string Deploying = "deploying";

    /// <summary>The device reports it is fetching the new version's package.</summary>
    public const string Downloading = "downloading";

    /// <summary>The device reports it is checking signatures, metadata and digests.</summary>
    public const string Verifying = "verifying";

    /// <summary>The device reports the new version loaded and warmed, not yet serving.</summary>
    public const string Staged = "staged";

    public const string Active = "active";
    public const string Failed = "failed";

    /// <summary>A rollout of higher priority selects it, so this one leaves it alone.</summary>
    public const string Superseded = "superseded";

    public const string RolledBack = "rolled-back";
}
