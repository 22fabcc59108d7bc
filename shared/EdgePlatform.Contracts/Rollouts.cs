namespace EdgePlatform.Contracts;

/// <summary>
/// Body of <c>POST /api/v1/rollouts</c>. <see cref="Model"/> is <c>name</c> (newest version),
/// <c>name:version</c>, or <c>name@alias</c> (the version the alias names when the rollout is
/// created, pinned from then on); <see cref="Selector"/> picks devices by tags
/// (<c>site=berlin and hw in (pi4,pi5)</c>). Where running rollouts select the same device, the
/// highest <see cref="Priority"/> decides its model (the newer rollout on a tie). <see cref="Runtime"/>
/// is where devices run it, one of <see cref="ModelRuntimeKinds"/> (default in-process ONNX).
/// </summary>
public sealed record CreateRolloutRequest(
    string? Model,
    string? Selector,
    int? Priority,
    IReadOnlyList<RolloutStage>? Stages,
    RolloutGates? Gates,
    int? DeviceTimeoutSeconds = null,
    RolloutRate? Rate = null,
    string? Runtime = null);

/// <summary>
/// One stage: the devices it reaches, cumulative, as <see cref="Percent"/> of the selected devices
/// or as a <see cref="Count"/> of them (exactly one of the two), then how long it bakes before
/// the gates are read.
/// </summary>
public sealed record RolloutStage(double? Percent, int? Count, int BakeSeconds);

/// <summary>
/// Health gates. Failure percentage aborts at once, but only after <see cref="MinDevices"/> devices
/// have finished (as AWS IoT abort thresholds); the others are read at the end of each bake from
/// the per-minute telemetry of devices on the new version over the stage's window. Null switches a gate off.
/// The quality gate (<see cref="QualityMetric"/>, one of <see cref="QualityGateMetrics"/>) compares
/// labelled feedback on the new version with the previous version's at every tick, devices as
/// units, by an anytime-valid confidence sequence at level 1 − <see cref="QualityAlpha"/>
/// (default 0.05): it rolls back once the new version is worse by more than
/// <see cref="QualityMargin"/> (absolute), and a stage opens only once it shows it is not.
/// </summary>
public sealed record RolloutGates(
    double? MaxFailurePercent = null,
    int? MinDevices = null,
    double? MaxErrorRate = null,
    long? MinEventsScored = null,
    double? MaxP99Regression = null,
    bool RequireAttestation = false,
    string? QualityMetric = null,
    double? QualityMargin = null,
    double? QualityAlpha = null);

/// <summary>The metrics a rollout's quality gate reads from labelled feedback in quality telemetry.</summary>
public static class QualityGateMetrics
{
    /// <summary>Classification: correct (true positives and negatives) per labelled prediction; higher is better.</summary>
    public const string Accuracy = ExperimentMetricKinds.Accuracy;

    /// <summary>Regression: mean absolute error per labelled prediction; lower is better.</summary>
    public const string Mae = ExperimentMetricKinds.Mae;

    /// <summary>The alpha a quality gate uses when none is given.</summary>
    public const double DefaultAlpha = 0.05;

    public static IReadOnlyList<string> All { get; } = [Accuracy, Mae];
}

/// <summary>
/// How fast devices inside an open stage are sent the new version, as AWS IoT jobs' exponential
/// rate: at most <see cref="BaseRatePerMinute"/> devices a minute at first; each time another
/// <see cref="IncreaseAfterNotified"/> devices were sent the version (or another
/// <see cref="IncreaseAfterSucceeded"/> reported it active; exactly one of the two) the rate is
/// multiplied by <see cref="IncrementFactor"/> from the next minute on, up to <see cref="MaxRatePerMinute"/>.
/// </summary>
public sealed record RolloutRate(
    int? BaseRatePerMinute,
    double? IncrementFactor,
    int? MaxRatePerMinute,
    int? IncreaseAfterNotified = null,
    int? IncreaseAfterSucceeded = null);

/// <summary>
/// Where a rollout's rate stands: the rate of the minute that started at
/// <see cref="WindowStartedAt"/>, how many devices that minute sent so far, the devices sent the
/// version and those that reported it active since the rollout began, and the count (of the
/// rate's trigger) at the last increase.
/// </summary>
public sealed record RolloutRateProgress(
    double RatePerMinute,
    DateTimeOffset WindowStartedAt,
    int SentInWindow,
    long Notified,
    long Succeeded,
    long CountAtLastIncrease);

/// <summary>
/// A rollout: what it rolls out where, how, and where it stands. <see cref="Model"/> is the
/// version pinned at creation; <see cref="ModelAlias"/> the alias it was named by then, if any.
/// <see cref="Counts"/> (devices per state) and <see cref="StageCounts"/> (the same per stage)
/// come with every read; device lists come page by page (<see cref="RolloutDetail"/>).
/// </summary>
public sealed record RolloutInfo(
    string Id,
    ModelReference Model,
    string? ModelAlias,
    string Selector,
    int Priority,
    IReadOnlyList<RolloutStage> Stages,
    RolloutGates Gates,
    RolloutRate? Rate,
    int DeviceTimeoutSeconds,
    string State,
    int CurrentStage,
    DateTimeOffset StageStartedAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    string? Reason,
    RolloutRateProgress? RateProgress = null,
    IReadOnlyDictionary<string, int>? Counts = null,
    IReadOnlyList<IReadOnlyDictionary<string, int>>? StageCounts = null);

/// <summary>
/// <c>GET /api/v1/rollouts/{id}</c>: the rollout and one page of its devices, ordered by device
/// id; <see cref="NextAfter"/> is the <c>after</c> of the next page, null on the last.
/// </summary>
public sealed record RolloutDetail(RolloutInfo Rollout, IReadOnlyList<RolloutDevice> Devices, string? NextAfter);

/// <summary>
/// A device's part in a rollout: the stage its position puts it in, where it is and since when,
/// the model it had before (null when it had none), which a rollback restores, when it was sent
/// the version, and its last transitions (at most <see cref="MaxHistory"/>, oldest first).
/// </summary>
public sealed record RolloutDevice(
    string DeviceId,
    int Stage,
    string State,
    ModelReference? Previous,
    string? Reason,
    DateTimeOffset Since,
    long DesiredVersion = 0,
    DateTimeOffset? SentAt = null,
    IReadOnlyList<RolloutDeviceTransition>? History = null)
{
    public const int MaxHistory = 12;
}

/// <summary>One step of a device in a rollout: the state it entered, why, and when.</summary>
public sealed record RolloutDeviceTransition(string State, string? Reason, DateTimeOffset At);

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
    /// <summary>Selected; its stage has not started, or the rate has not reached it yet.</summary>
    public const string Pending = "pending";

    /// <summary>Its desired state names the new version; it has not reported a step yet.</summary>
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

    public static IReadOnlyList<string> All { get; } =
        [Pending, Deploying, Downloading, Verifying, Staged, Active, Failed, Superseded, RolledBack];

    /// <summary>Sent the version and on its way to it: a device timeout applies, and a rollback restores it.</summary>
    public static bool IsInProgress(string state) => state is Deploying or Downloading or Verifying or Staged;
}

/// <summary>
/// A name for one version of a model (<c>production</c>, <c>canary</c>), set and moved by
/// <c>PUT /api/v1/models/{name}/aliases/{alias}</c>; a deployment or rollout names it as
/// <c>name@alias</c>.
/// </summary>
public sealed record ModelAlias(string Name, string Alias, string Version, DateTimeOffset UpdatedAt, string UpdatedBy);

/// <summary>Body of <c>PUT /api/v1/models/{name}/aliases/{alias}</c>.</summary>
public sealed record SetModelAliasRequest(string? Version);
