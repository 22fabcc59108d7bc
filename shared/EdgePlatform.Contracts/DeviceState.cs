namespace EdgePlatform.Contracts;

/// <summary>
/// The document the control plane publishes retained on <c>devices/{id}/twin/desired</c>.
/// <see cref="Version"/> grows with every change; a device ignores a document older than one
/// it has applied.
/// </summary>
public sealed record DesiredState(long Version, DeploymentSpec? Deployment, TelemetrySettings Telemetry);

/// <summary>
/// The model a device runs, by the deployment, rollout or experiment that put it there
/// (<see cref="DeploymentId"/>). <see cref="Experiment"/> is set when an experiment placed the
/// device: the arm <see cref="Model"/> serves and, where events are split between arms on the
/// device, the other arm's model beside it.
/// </summary>
public sealed record DeploymentSpec(string DeploymentId, ModelReference Model)
{
    public ExperimentPlacement? Experiment { get; init; }
}

/// <summary>
/// What to run, pinned by digest, with the CMS detached signature (base64) over the exact
/// manifest bytes. The device installs the package only if the signed targets metadata
/// approves this release for its channel with this digest and size, and the signature is
/// by a threshold of the targets keys its pinned root names.
/// </summary>
public sealed record ModelReference(
    string Repository,
    string Name,
    string Version,
    string ManifestDigest,
    long ManifestSize,
    string Signature)
{
    /// <summary>
    /// Where the device runs the model: <see cref="ModelRuntimeKinds.Onnx"/> (in the agent's own
    /// ONNX Runtime, the default when absent) or <see cref="ModelRuntimeKinds.Container"/> (the
    /// release's container image, which its signed targets entry must name).
    /// </summary>
    public string? Runtime { get; init; }

    /// <summary>True when the model runs in its container image rather than in-process.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool RunsInContainer => string.Equals(Runtime, ModelRuntimeKinds.Container, StringComparison.Ordinal);
}

/// <summary>The values of <see cref="ModelReference.Runtime"/>.</summary>
public static class ModelRuntimeKinds
{
    public const string Onnx = "onnx";
    public const string Container = "container";

    public static IReadOnlyList<string> All { get; } = [Onnx, Container];
}

public sealed record TelemetrySettings(int IntervalSeconds)
{
    public static TelemetrySettings Default { get; } = new(10);
}

/// <summary>What a device publishes on <c>devices/{id}/twin/reported</c>.</summary>
public sealed record ReportedState(
    string AgentVersion,
    long DesiredVersion,
    IReadOnlyList<ModelSlotReport> Slots,
    string? LastError,
    DateTimeOffset ReportedAt);

/// <summary>State of one model slot on a device.</summary>
public sealed record ModelSlotReport(
    string Slot,
    string Name,
    string Version,
    string ManifestDigest,
    string State,
    DateTimeOffset Since);

/// <summary>
/// Where a slot's model is on the way to serving: a device reports the version its desired state
/// names as <see cref="Downloading"/>, then <see cref="Verifying"/> (signature, metadata, digests),
/// then <see cref="Staged"/> (loaded and warmed beside the running version), then
/// <see cref="Active"/>; or <see cref="Failed"/> with the reason in <see cref="ReportedState.LastError"/>.
/// </summary>
public static class ModelSlotStates
{
    public const string Downloading = "downloading";
    public const string Verifying = "verifying";
    public const string Staged = "staged";
    public const string Active = "active";
    public const string Failed = "failed";
}

public static class DeviceStatuses
{
    public const string Online = "online";
    public const string Offline = "offline";
    public const string NeverConnected = "never-connected";

    /// <summary>Shut out: refused by the broker and at enrollment until an operator deletes the device.</summary>
    public const string Revoked = "revoked";
}

public static class ModelSlots
{
    /// <summary>The version serving events (state <see cref="ModelSlotStates.Active"/>).</summary>
    public const string Primary = "primary";

    /// <summary>
    /// The version a desired state names while it is on its way (downloading, verifying, staged) or
    /// after it failed; the slot is gone once that version is active in <see cref="Primary"/>.
    /// </summary>
    public const string Incoming = "incoming";

    /// <summary>
    /// An experiment's second arm on the device (<see cref="ExperimentCandidate"/>), scored beside
    /// the primary; reported through the same states as the incoming slot, active once it scores.
    /// </summary>
    public const string Candidate = "candidate";
}
