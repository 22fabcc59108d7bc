namespace EdgePlatform.Contracts;

/// <summary>The life of a sweep on the control plane.</summary>
public static class SweepStatuses
{
    /// <summary>Proposing trials and waiting for their results.</summary>
    public const string Running = "running";

    /// <summary>The search is over; the winner is being refitted on every row and published.</summary>
    public const string Refitting = "refitting";

    public const string Succeeded = "succeeded";
    public const string Failed = "failed";

    /// <summary>Stopped by a user; its trials were cancelled and nothing was published.</summary>
    public const string Stopped = "stopped";

    public static bool IsActive(string status) => status is Running or Refitting;
}

/// <summary>The life of one trial in the durable queue.</summary>
public static class TrialStatuses
{
    public const string Queued = "queued";
    public const string Leased = "leased";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static IReadOnlyList<string> All { get; } = [Queued, Leased, Succeeded, Failed, Cancelled];
}

/// <summary>
/// What a trial ran on: the code version and the versions of ML.NET and ONNX Runtime. A worker
/// whose build differs from the control plane's is refused, so every trial of a sweep (and the
/// refit) runs the same code.
/// </summary>
public sealed record WorkerBuild(string CodeVersion, string MlNetVersion, string OnnxRuntimeVersion)
{
    public override string ToString() => $"code {CodeVersion}, ML.NET {MlNetVersion}, ONNX Runtime {OnnxRuntimeVersion}";
}

/// <summary>A sweep as the API reports it, with its trial counts.</summary>
public sealed record SweepInfo(
    string Id,
    string Status,
    SweepSpec Spec,
    string Dataset,
    string DatasetDigest,
    string ModelName,
    string? Task,
    string? Metric,
    int Trials,
    int Queued,
    int Running,
    int Succeeded,
    int Failed,
    int? BestTrial,
    double? BestScore,
    string? ModelVersion,
    string? ManifestDigest,
    string? Error,
    string CreatedBy,
    DateTimeOffset CreatedAt,
    DateTimeOffset? FinishedAt);

/// <summary>One trial with everything tracked about it.</summary>
public sealed record TrialInfo(
    string SweepId,
    int Number,
    string Trainer,
    IReadOnlyDictionary<string, double> Parameters,
    double Fidelity,
    int Seed,
    string Status,
    int Attempt,
    string? WorkerId,
    string? WorkerBuild,
    double? Score,
    IReadOnlyDictionary<string, double>? Metrics,
    double? DurationSeconds,
    string? Log,
    string? Error,
    DateTimeOffset CreatedAt,
    DateTimeOffset? FinishedAt);

/// <summary>A page of trials: <see cref="Total"/> is every trial the query matched; <see cref="NextOffset"/> null on the last page.</summary>
public sealed record TrialPage(IReadOnlyList<TrialInfo> Items, int Total, int? NextOffset);

/// <summary>A worker as last seen: it is live while it asked for work or heartbeated within the liveness window.</summary>
public sealed record WorkerInfo(string Id, string Build, int Slots, DateTimeOffset LastSeen, bool Live);

/// <summary>A worker asking for a trial: who it is, what it runs, how many trials it runs at once.</summary>
public sealed record TrialLeaseRequest(string WorkerId, WorkerBuild Build, int Slots);

/// <summary>
/// A leased trial: what to run, on which dataset snapshot (download it by digest), and the
/// lease's attempt number, which the worker sends back with every heartbeat and its result.
/// </summary>
public sealed record TrialLease(
    string SweepId,
    int Number,
    int Attempt,
    string Trainer,
    IReadOnlyDictionary<string, double> Parameters,
    double Fidelity,
    int Seed,
    SweepSpec Spec,
    DatasetInfo Dataset,
    double HeartbeatSeconds,
    double LeaseSeconds);

public sealed record TrialHeartbeat(string WorkerId, int Attempt);

/// <summary>Stop: the trial was cancelled or its lease lost; the worker kills the trial's process.</summary>
public sealed record TrialHeartbeatReply(bool Stop, string? Reason);

/// <summary>A trial's result. <see cref="Error"/> set: it failed (and <see cref="Score"/> is ignored).</summary>
public sealed record TrialReport(
    string WorkerId,
    int Attempt,
    double? Score,
    IReadOnlyDictionary<string, double>? Metrics,
    double DurationSeconds,
    string? Log,
    string? Error);

/// <summary>The server's answer to a report: whether this report is the trial's recorded result.</summary>
public sealed record TrialReportReply(bool Accepted, string? Reason);

/// <summary>What <c>edgectl trial run</c> writes: the trial's validated score and metrics, or why it failed.</summary>
public sealed record TrialRunResult(double? Score, IReadOnlyDictionary<string, double>? Metrics, double DurationSeconds, string? Error);
