using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Ports;

/// <summary>
/// Sweeps, their durable trial queue and the workers that lease from it. Every queue transition
/// is one atomic statement guarded by the trial's status, lease owner and attempt, so a trial is
/// leased by one worker at a time and its result is recorded exactly once.
/// </summary>
public interface ISweepStore
{
    Task AddSweepAsync(SweepRecord sweep, CancellationToken cancellationToken);

    /// <summary>Writes the sweep's mutable fields (status, task, metric, best trial, version, error, finish time).</summary>
    Task UpdateSweepAsync(SweepRecord sweep, CancellationToken cancellationToken);

    Task<SweepRecord?> GetSweepAsync(string id, CancellationToken cancellationToken);

    /// <summary>Newest first.</summary>
    Task<IReadOnlyList<SweepRecord>> ListSweepsAsync(CancellationToken cancellationToken);

    /// <summary>Trials per status for each sweep (sweep id → status → count).</summary>
    Task<IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>>> CountTrialsAsync(CancellationToken cancellationToken);

    /// <summary>Queues a proposed trial (status queued, attempt 0).</summary>
    Task AddTrialAsync(TrialRecord trial, CancellationToken cancellationToken);

    Task<TrialRecord?> GetTrialAsync(string sweepId, int number, CancellationToken cancellationToken);

    /// <summary>
    /// In one transaction: returns expired leases to the queue, then leases the oldest queued
    /// trial of a running sweep to <paramref name="workerId"/> until <paramref name="expiresAt"/>, with its attempt
    /// incremented; null when nothing is queued.
    /// </summary>
    Task<TrialRecord?> LeaseTrialAsync(string workerId, string build, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken cancellationToken);

    /// <summary>Extends the lease if <paramref name="workerId"/> still holds <paramref name="attempt"/>; false when it does not (cancelled, expired and requeued, or done).</summary>
    Task<bool> ExtendLeaseAsync(string sweepId, int number, string workerId, int attempt, DateTimeOffset expiresAt, CancellationToken cancellationToken);

    /// <summary>
    /// Records a leased trial's result (succeeded when <see cref="TrialResultRecord.Error"/> is
    /// null, failed otherwise) if <paramref name="workerId"/> still holds <paramref name="attempt"/>;
    /// false otherwise, and nothing changes.
    /// </summary>
    Task<bool> CompleteTrialAsync(string sweepId, int number, string workerId, int attempt, TrialResultRecord result, CancellationToken cancellationToken);

    /// <summary>Returns leases that expired before <paramref name="now"/> to the queue; the count returned.</summary>
    Task<int> RequeueExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Cancels the sweep's queued trials, and its leased ones too when <paramref name="includeLeased"/>; the count cancelled.</summary>
    Task<int> CancelTrialsAsync(string sweepId, bool includeLeased, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Every trial of a sweep, by number.</summary>
    Task<IReadOnlyList<TrialRecord>> ListTrialsAsync(string sweepId, CancellationToken cancellationToken);

    /// <summary>A page of a sweep's trials matching <paramref name="query"/>, with the total matched.</summary>
    Task<(IReadOnlyList<TrialRecord> Items, int Total)> QueryTrialsAsync(string sweepId, TrialQuery query, CancellationToken cancellationToken);

    /// <summary>Trials finished (succeeded or failed) after <paramref name="afterSequence"/>, in the order their results arrived.</summary>
    Task<IReadOnlyList<TrialRecord>> ListCompletedSinceAsync(string sweepId, long afterSequence, CancellationToken cancellationToken);

    /// <summary>Queued trials over every sweep.</summary>
    Task<int> CountQueuedAsync(CancellationToken cancellationToken);

    /// <summary>Records that a worker was seen; a null build and slots keep the ones it last reported.</summary>
    Task TouchWorkerAsync(string workerId, string? build, int? slots, DateTimeOffset now, CancellationToken cancellationToken);

    Task<IReadOnlyList<WorkerRecord>> ListWorkersAsync(CancellationToken cancellationToken);
}

/// <summary>A sweep as stored; <see cref="Dataset"/> is the resolved version the trials read.</summary>
public sealed record SweepRecord(
    string Id,
    SweepSpec Spec,
    string Status,
    DatasetInfo Dataset,
    string ModelName,
    string CreatedBy,
    DateTimeOffset CreatedAt,
    string? Task = null,
    string? Metric = null,
    DateTimeOffset? FinishedAt = null,
    int? BestTrial = null,
    double? BestScore = null,
    string? ModelVersion = null,
    string? ManifestDigest = null,
    string? Error = null);

/// <summary>
/// A trial as stored. <see cref="ProposedAfter"/> is how many results the planner had recorded
/// when it proposed the trial and <see cref="CompletionSequence"/> the order its result arrived
/// in the sweep: together they replay the search exactly after a restart.
/// </summary>
public sealed record TrialRecord(
    string SweepId,
    int Number,
    string Trainer,
    IReadOnlyDictionary<string, double> Parameters,
    double Fidelity,
    int Seed,
    string Status,
    int ProposedAfter,
    DateTimeOffset CreatedAt,
    int Attempt = 0,
    string? LeaseOwner = null,
    DateTimeOffset? LeaseExpiresAt = null,
    string? WorkerId = null,
    string? WorkerBuild = null,
    double? Score = null,
    IReadOnlyDictionary<string, double>? Metrics = null,
    double? DurationSeconds = null,
    string? Log = null,
    string? Error = null,
    long? CompletionSequence = null,
    DateTimeOffset? FinishedAt = null)
{
    public TrialInfo ToInfo() => new(
        SweepId, Number, Trainer, Parameters, Fidelity, Seed, Status, Attempt, WorkerId, WorkerBuild, Score, Metrics, DurationSeconds, Log, Error, CreatedAt, FinishedAt);
}

/// <summary>What a worker reported for a trial.</summary>
public sealed record TrialResultRecord(double? Score, IReadOnlyDictionary<string, double>? Metrics, double DurationSeconds, string? Log, string? Error, DateTimeOffset FinishedAt);

/// <summary>
/// Filters and order of a trial listing. <see cref="Sort"/> is <c>number</c>, <c>score</c>,
/// <c>duration</c> or a metric name; <see cref="Parameter"/> filters on one hyperparameter's range.
/// </summary>
public sealed record TrialQuery(
    string? Trainer = null,
    string? Status = null,
    double? MinScore = null,
    double? MaxScore = null,
    string? Parameter = null,
    double? ParameterMin = null,
    double? ParameterMax = null,
    string Sort = "number",
    bool Descending = false,
    int Offset = 0,
    int Limit = 100);

public sealed record WorkerRecord(string Id, string Build, int Slots, DateTimeOffset LastSeen);
