using System.Collections.Concurrent;
using System.Security.Cryptography;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Models;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Training;

/// <summary>
/// Sweeps: submission, the durable trial queue workers lease from, stopping, tracking, and the
/// scheduler's step (<see cref="TickAsync"/>) that records results in arrival order, proposes
/// trials up to each sweep's concurrency, enforces budgets, and refits and publishes the winner.
/// The refit runs in the control plane, as single training runs do, so the published version is
/// signed where the signing key lives and the winner's card is written next to its search.
/// </summary>
public sealed partial class SweepService(
    ISweepStore store,
    ITrainingStore trainingStore,
    IArtifactStore artifacts,
    ISweepEngine engine,
    ModelRegistry registry,
    SweepQueueMetrics metrics,
    IOptions<SweepOptions> options,
    TimeProvider timeProvider,
    ILogger<SweepService> logger,
    IDatasetResolver? datasetVersions = null) : IDisposable
{
    /// <summary>The wall-time budget of a sweep with neither a budget nor a trial limit.</summary>
    public const double DefaultBudgetSeconds = 600;

    public const int MaxPageSize = 1000;

    private readonly ConcurrentDictionary<string, SweepState> _states = new(StringComparer.Ordinal);

    /// <summary>Serializes the scheduler's step with submit and stop, so a stopped sweep gets no new trials.</summary>
    private readonly SemaphoreSlim _gate = new(1, 1);

    private SweepOptions Options => options.Value;

    public void Dispose() => _gate.Dispose();

    public WorkerBuild Build => engine.Build;

    public async Task<SweepInfo> SubmitAsync(SweepSpec? spec, string createdBy, CancellationToken cancellationToken)
    {
        spec = Validate(spec);
        var reference = spec.Dataset!.Trim();
        var dataset = (reference.Contains('@', StringComparison.Ordinal) ? null : await trainingStore.GetDatasetAsync(reference, cancellationToken).ConfigureAwait(false))
            ?? (datasetVersions is null ? null : await datasetVersions.ResolveAsync(reference, cancellationToken).ConfigureAwait(false))
            ?? throw new RequestValidationException("dataset", $"dataset '{reference}' is not registered");
        var modelName = string.IsNullOrWhiteSpace(spec.ModelName) ? dataset.Name.Split('@')[0] : spec.ModelName.Trim();
        if (ModelNames.Describe(modelName) is { } problem)
        {
            throw new RequestValidationException("modelName", problem);
        }

        // Reading the snapshot and resolving the spec against it now refuses a spec that cannot
        // run (an unknown column, a metric that does not suit the task) before any trial is queued.
        var search = await OpenSearchAsync(spec, dataset, cancellationToken).ConfigureAwait(false);
        var now = timeProvider.GetUtcNow();
        var id = $"sweep-{now:yyyyMMddHHmmss}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
        var record = new SweepRecord(id, spec, SweepStatuses.Running, dataset, modelName, createdBy, now, search.Task, search.Metric);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await store.AddSweepAsync(record, cancellationToken).ConfigureAwait(false);
            _states[id] = new SweepState(search);
        }
        finally
        {
            _gate.Release();
        }

        LogSubmitted(id, dataset.Name, dataset.Digest, search.Task, search.Metric);
        return ToInfo(record, null);
    }

    private static SweepSpec Validate(SweepSpec? spec)
    {
        if (spec is null)
        {
            throw new RequestValidationException("spec", "send a sweep spec as JSON (at least {\"dataset\": \"NAME\"})");
        }

        if (string.IsNullOrWhiteSpace(spec.Dataset))
        {
            throw new RequestValidationException("dataset", "name the registered dataset to search on (NAME or NAME@VERSION)");
        }

        if (spec.Task is not null && !ModelTasks.All.Contains(spec.Task, StringComparer.Ordinal))
        {
            throw new RequestValidationException("task", $"unknown task '{spec.Task}'; use one of: {string.Join(", ", ModelTasks.All)}");
        }

        if (spec.Metric is not null && !SweepMetrics.All.Contains(spec.Metric, StringComparer.Ordinal))
        {
            throw new RequestValidationException("metric", $"unknown metric '{spec.Metric}'; use one of: {string.Join(", ", SweepMetrics.All)}");
        }

        if (spec.MaxTrials is < 1)
        {
            throw new RequestValidationException("maxTrials", "must be at least 1");
        }

        if (spec.BudgetSeconds is { } budget && (double.IsNaN(budget) || budget <= 0))
        {
            throw new RequestValidationException("budgetSeconds", "must be above 0");
        }

        // Folds, hold-out and the columns are checked against the data by the search library.
        if (spec.Concurrency is < 1)
        {
            throw new RequestValidationException("concurrency", "must be at least 1 (leave it out to run as many trials as there are worker slots)");
        }

        return spec;
    }

    private async Task<ISweepSearch> OpenSearchAsync(SweepSpec spec, DatasetInfo dataset, CancellationToken cancellationToken)
    {
        var snapshot = await artifacts.OpenReadAsync(dataset.Digest, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"dataset blob {dataset.Digest} of '{dataset.Name}' is missing from the artifact store");
        await using (snapshot.ConfigureAwait(false))
        {
            return await engine.OpenAsync(spec, dataset, snapshot, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<IReadOnlyList<SweepInfo>> ListAsync(CancellationToken cancellationToken)
    {
        var sweeps = await store.ListSweepsAsync(cancellationToken).ConfigureAwait(false);
        var counts = await store.CountTrialsAsync(cancellationToken).ConfigureAwait(false);
        return [.. sweeps.Select(s => ToInfo(s, counts.GetValueOrDefault(s.Id)))];
    }

    public async Task<SweepInfo> GetAsync(string id, CancellationToken cancellationToken)
    {
        var sweep = await RequireAsync(id, cancellationToken).ConfigureAwait(false);
        var counts = await store.CountTrialsAsync(cancellationToken).ConfigureAwait(false);
        return ToInfo(sweep, counts.GetValueOrDefault(id));
    }

    private async Task<SweepRecord> RequireAsync(string id, CancellationToken cancellationToken) =>
        await store.GetSweepAsync(id, cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException($"sweep '{id}' does not exist");

    /// <summary>Stops a running sweep: its trials are cancelled and workers learn it on their next heartbeat.</summary>
    public async Task<SweepInfo> StopAsync(string id, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var sweep = await RequireAsync(id, cancellationToken).ConfigureAwait(false);
            if (!SweepStatuses.IsActive(sweep.Status))
            {
                throw new ConflictException($"sweep '{id}' is {sweep.Status}, not running");
            }

            var now = timeProvider.GetUtcNow();
            sweep = sweep with { Status = SweepStatuses.Stopped, FinishedAt = now, Error = "stopped by a user" };
            await store.UpdateSweepAsync(sweep, cancellationToken).ConfigureAwait(false);
            var cancelled = await store.CancelTrialsAsync(id, includeLeased: true, now, cancellationToken).ConfigureAwait(false);
            if (_states.TryRemove(id, out var state))
            {
                await state.Refit.CancelAsync().ConfigureAwait(false);
            }

            LogStopped(id, cancelled);
        }
        finally
        {
            _gate.Release();
        }

        return await GetAsync(id, cancellationToken).ConfigureAwait(false);
    }

    public async Task<TrialPage> QueryTrialsAsync(string id, TrialQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        await RequireAsync(id, cancellationToken).ConfigureAwait(false);
        if (query.Limit is < 1 or > MaxPageSize)
        {
            throw new RequestValidationException("limit", $"must be between 1 and {MaxPageSize}");
        }

        if (query.Offset < 0)
        {
            throw new RequestValidationException("offset", "must not be negative");
        }

        if (query.Status is not null && !TrialStatuses.All.Contains(query.Status, StringComparer.Ordinal))
        {
            throw new RequestValidationException("status", $"unknown trial status '{query.Status}'; use one of: {string.Join(", ", TrialStatuses.All)}");
        }

        if (query.Sort is not ("number" or "score" or "duration") && !SweepMetrics.All.Contains(query.Sort, StringComparer.Ordinal))
        {
            throw new RequestValidationException("sort", $"sort by number, score, duration or a metric ({string.Join(", ", SweepMetrics.All)}), not '{query.Sort}'");
        }

        if ((query.ParameterMin is not null || query.ParameterMax is not null) && string.IsNullOrWhiteSpace(query.Parameter))
        {
            throw new RequestValidationException("param", "name the parameter that paramMin/paramMax bound");
        }

        var (items, total) = await store.QueryTrialsAsync(id, query, cancellationToken).ConfigureAwait(false);
        var next = query.Offset + items.Count;
        return new TrialPage([.. items.Select(t => t.ToInfo())], total, next < total && items.Count > 0 ? next : null);
    }

    public async Task<IReadOnlyList<WorkerInfo>> ListWorkersAsync(CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        var workers = await store.ListWorkersAsync(cancellationToken).ConfigureAwait(false);
        return [.. workers.Select(w => new WorkerInfo(w.Id, w.Build, w.Slots, w.LastSeen, IsLive(w, now)))];
    }

    private bool IsLive(WorkerRecord worker, DateTimeOffset now) => now - worker.LastSeen <= TimeSpan.FromSeconds(Options.WorkerLivenessSeconds);

    /// <summary>Leases the oldest queued trial to a worker of the control plane's build; null when nothing is queued.</summary>
    public async Task<TrialLease?> LeaseAsync(TrialLeaseRequest? request, CancellationToken cancellationToken)
    {
        if (request is null)
        {
            throw new RequestValidationException("body", "send {\"workerId\", \"build\", \"slots\"}");
        }

        ValidateWorkerId(request.WorkerId);
        if (request.Slots is < 1 or > 1024)
        {
            throw new RequestValidationException("slots", "must be between 1 and 1024");
        }

        if (request.Build is null)
        {
            throw new RequestValidationException("build", "report the worker's build (code, ML.NET and ONNX Runtime versions)");
        }

        if (request.Build != engine.Build)
        {
            throw new ConflictException(
                $"worker '{request.WorkerId}' runs build ({request.Build}) but the control plane runs ({engine.Build}); trials must run on the control plane's build, so run the worker from the same release");
        }

        var now = timeProvider.GetUtcNow();
        var build = request.Build.ToString();
        await store.TouchWorkerAsync(request.WorkerId, build, request.Slots, now, cancellationToken).ConfigureAwait(false);
        var trial = await store.LeaseTrialAsync(request.WorkerId, build, now, now + TimeSpan.FromSeconds(Options.LeaseSeconds), cancellationToken).ConfigureAwait(false);
        if (trial is null)
        {
            return null;
        }

        var sweep = await RequireAsync(trial.SweepId, cancellationToken).ConfigureAwait(false);
        LogLeased(trial.SweepId, trial.Number, trial.Attempt, request.WorkerId);
        return new TrialLease(
            trial.SweepId, trial.Number, trial.Attempt, trial.Trainer, trial.Parameters, trial.Fidelity, trial.Seed, sweep.Spec, sweep.Dataset,
            Options.HeartbeatSeconds, Options.LeaseSeconds);
    }

    /// <summary>Extends a lease; tells the worker to stop when the trial was cancelled or the lease lost.</summary>
    public async Task<TrialHeartbeatReply> HeartbeatAsync(string sweepId, int number, TrialHeartbeat? heartbeat, CancellationToken cancellationToken)
    {
        if (heartbeat is null)
        {
            throw new RequestValidationException("body", "send {\"workerId\", \"attempt\"}");
        }

        ValidateWorkerId(heartbeat.WorkerId);
        var now = timeProvider.GetUtcNow();
        await store.TouchWorkerAsync(heartbeat.WorkerId, null, null, now, cancellationToken).ConfigureAwait(false);
        if (await store.ExtendLeaseAsync(sweepId, number, heartbeat.WorkerId, heartbeat.Attempt, now + TimeSpan.FromSeconds(Options.LeaseSeconds), cancellationToken).ConfigureAwait(false))
        {
            return new TrialHeartbeatReply(false, null);
        }

        return new TrialHeartbeatReply(true, await WhyNotHeldAsync(sweepId, number, heartbeat.WorkerId, heartbeat.Attempt, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Records a trial's result once: a second report, or one from a lease that was lost, is refused.</summary>
    public async Task<TrialReportReply> ReportAsync(string sweepId, int number, TrialReport? report, CancellationToken cancellationToken)
    {
        if (report is null)
        {
            throw new RequestValidationException("body", "send the trial's result");
        }

        ValidateWorkerId(report.WorkerId);
        if (report.Error is null && (report.Score is not { } score || double.IsNaN(score)))
        {
            throw new RequestValidationException("score", "a trial that did not fail has a score (send error for one that failed)");
        }

        if (double.IsNaN(report.DurationSeconds) || report.DurationSeconds < 0)
        {
            throw new RequestValidationException("durationSeconds", "must not be negative");
        }

        var log = report.Log is { } text && text.Length > Options.MaxLogChars ? text[^Options.MaxLogChars..] : report.Log;
        var now = timeProvider.GetUtcNow();
        await store.TouchWorkerAsync(report.WorkerId, null, null, now, cancellationToken).ConfigureAwait(false);
        var accepted = await store.CompleteTrialAsync(
            sweepId, number, report.WorkerId, report.Attempt, new TrialResultRecord(report.Score, report.Metrics, report.DurationSeconds, log, report.Error, now), cancellationToken).ConfigureAwait(false);
        if (accepted)
        {
            LogReported(sweepId, number, report.Attempt, report.WorkerId, report.Error is null ? "succeeded" : "failed");
            return new TrialReportReply(true, null);
        }

        return new TrialReportReply(false, await WhyNotHeldAsync(sweepId, number, report.WorkerId, report.Attempt, cancellationToken).ConfigureAwait(false));
    }

    private async Task<string> WhyNotHeldAsync(string sweepId, int number, string workerId, int attempt, CancellationToken cancellationToken)
    {
        var trial = await store.GetTrialAsync(sweepId, number, cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException($"trial {number} of sweep '{sweepId}' does not exist");
        return trial.Status switch
        {
            TrialStatuses.Cancelled => "the trial was cancelled (its sweep was stopped or ran out of budget)",
            TrialStatuses.Succeeded or TrialStatuses.Failed when trial.Attempt == attempt && trial.WorkerId == workerId => "this result was already recorded",
            TrialStatuses.Succeeded or TrialStatuses.Failed => $"the trial's result was already recorded from attempt {trial.Attempt} on worker '{trial.WorkerId}'",
            _ => $"the lease of attempt {attempt} was lost (it expired and the trial was queued again; now attempt {trial.Attempt})",
        };
    }

    /// <summary>A snapshot blob a running sweep trains on; null for any other digest, so a worker token reads no other artifact.</summary>
    public async Task<Stream?> OpenDatasetAsync(string digest, CancellationToken cancellationToken)
    {
        var sweeps = await store.ListSweepsAsync(cancellationToken).ConfigureAwait(false);
        return sweeps.Any(s => SweepStatuses.IsActive(s.Status) && string.Equals(s.Dataset.Digest, digest, StringComparison.Ordinal))
            ? await artifacts.OpenReadAsync(digest, cancellationToken).ConfigureAwait(false)
            : null;
    }

    private static void ValidateWorkerId(string? workerId)
    {
        if (string.IsNullOrWhiteSpace(workerId) || workerId.Length > 128 || !workerId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':'))
        {
            throw new RequestValidationException("workerId", "1 to 128 letters, digits, '-', '_', '.' or ':'");
        }
    }

    /// <summary>
    /// One scheduler step: requeues expired leases, then for each running sweep records new
    /// results in the order they arrived, proposes trials up to its concurrency, and finishes it
    /// when its planner is done or its budget is spent.
    /// </summary>
    /// <summary>Drops the in-memory planners, so the next step rebuilds each from what is stored.</summary>
    internal void ForgetPlanners() => _states.Clear();

    internal async Task TickAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var now = timeProvider.GetUtcNow();
            var requeued = await store.RequeueExpiredAsync(now, cancellationToken).ConfigureAwait(false);
            if (requeued > 0)
            {
                LogRequeued(requeued);
            }

            var workers = await store.ListWorkersAsync(cancellationToken).ConfigureAwait(false);
            var live = workers.Where(w => IsLive(w, now)).ToList();
            var sweeps = (await store.ListSweepsAsync(cancellationToken).ConfigureAwait(false)).Where(s => SweepStatuses.IsActive(s.Status)).ToList();
            var counts = await store.CountTrialsAsync(cancellationToken).ConfigureAwait(false);
            foreach (var sweep in sweeps)
            {
                try
                {
                    await StepAsync(sweep, counts.GetValueOrDefault(sweep.Id), Math.Max(1, live.Sum(w => w.Slots)), now, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogStepFailed(sweep.Id, ex);
                    _states.TryRemove(sweep.Id, out _);
                    await store.UpdateSweepAsync(sweep with { Status = SweepStatuses.Failed, Error = ex.Message, FinishedAt = now }, CancellationToken.None).ConfigureAwait(false);
                    await store.CancelTrialsAsync(sweep.Id, includeLeased: true, now, CancellationToken.None).ConfigureAwait(false);
                }
            }

            counts = await store.CountTrialsAsync(cancellationToken).ConfigureAwait(false);
            metrics.Update(
                counts.Values.Sum(c => c.GetValueOrDefault(TrialStatuses.Queued)),
                counts.Values.Sum(c => c.GetValueOrDefault(TrialStatuses.Leased)),
                live.Count,
                sweeps.Count);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task StepAsync(SweepRecord sweep, IReadOnlyDictionary<string, int>? counts, int workerSlots, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!_states.TryGetValue(sweep.Id, out var state))
        {
            state = await ReplayAsync(sweep, cancellationToken).ConfigureAwait(false);
            _states[sweep.Id] = state;
        }

        if (state.Refitting)
        {
            return;
        }

        var search = state.Search;
        var bestBefore = search.Best?.Trial.Number;
        foreach (var trial in await store.ListCompletedSinceAsync(sweep.Id, state.LastSequence, cancellationToken).ConfigureAwait(false))
        {
            Record(state, trial);
        }

        if (search.Best is { } best && best.Trial.Number != bestBefore)
        {
            sweep = sweep with { BestTrial = best.Trial.Number, BestScore = best.Score };
            await store.UpdateSweepAsync(sweep, cancellationToken).ConfigureAwait(false);
        }

        if (sweep.Status == SweepStatuses.Refitting)
        {
            StartRefit(sweep, state);
            return;
        }

        var outstanding = (counts?.GetValueOrDefault(TrialStatuses.Queued) ?? 0) + (counts?.GetValueOrDefault(TrialStatuses.Leased) ?? 0);
        // No budget and a trial limit: the limit alone ends the search.
        var budgetSeconds = sweep.Spec.BudgetSeconds ?? (sweep.Spec.MaxTrials is null ? DefaultBudgetSeconds : (double?)null);
        var overBudget = budgetSeconds is { } seconds && (now - sweep.CreatedAt).TotalSeconds >= seconds;
        var stalled = false;
        if (overBudget)
        {
            // Trials already running finish and count; queued ones are not started.
            var cancelled = await store.CancelTrialsAsync(sweep.Id, includeLeased: false, now, cancellationToken).ConfigureAwait(false);
            outstanding = Math.Max(0, outstanding - cancelled);
        }
        else
        {
            var cap = sweep.Spec.Concurrency ?? workerSlots;
            while (outstanding < cap && !search.IsComplete)
            {
                if (search.Propose() is not { } proposed)
                {
                    stalled = true;
                    break;
                }

                state.Proposed[proposed.Number] = proposed;
                await store.AddTrialAsync(
                    new TrialRecord(sweep.Id, proposed.Number, proposed.Trainer, proposed.Parameters, proposed.Fidelity, proposed.Seed, TrialStatuses.Queued, state.Recorded, now),
                    cancellationToken).ConfigureAwait(false);
                outstanding++;
            }
        }

        if (search.IsComplete || (outstanding == 0 && (overBudget || stalled)))
        {
            sweep = sweep with { Status = SweepStatuses.Refitting };
            await store.UpdateSweepAsync(sweep, cancellationToken).ConfigureAwait(false);
            LogSearchDone(sweep.Id, state.Recorded, overBudget ? "budget spent" : "search complete");
            StartRefit(sweep, state);
        }
    }

    private static void Record(SweepState state, TrialRecord trial)
    {
        var proposed = state.Proposed.GetValueOrDefault(trial.Number)
            ?? new ProposedTrial(trial.Number, trial.Trainer, trial.Parameters, trial.Fidelity, trial.Seed);
        state.Search.Record(
            proposed,
            trial.Status == TrialStatuses.Succeeded && trial.Score is not null
                ? new TrialResultRecord(trial.Score, trial.Metrics, trial.DurationSeconds ?? 0, null, null, trial.FinishedAt ?? DateTimeOffset.UnixEpoch)
                : null);
        state.Recorded++;
        state.LastSequence = Math.Max(state.LastSequence, trial.CompletionSequence ?? 0);
    }

    /// <summary>
    /// Rebuilds a sweep's planner after a restart: proposals are replayed at the point of the
    /// history they were made (after <see cref="TrialRecord.ProposedAfter"/> results) and results
    /// recorded in the order they arrived, so the planner is in the state it was in.
    /// </summary>
    private async Task<SweepState> ReplayAsync(SweepRecord sweep, CancellationToken cancellationToken)
    {
        var search = await OpenSearchAsync(sweep.Spec, sweep.Dataset, cancellationToken).ConfigureAwait(false);
        var state = new SweepState(search);
        var trials = await store.ListTrialsAsync(sweep.Id, cancellationToken).ConfigureAwait(false);
        var completed = trials.Where(t => t.CompletionSequence is not null).OrderBy(t => t.CompletionSequence).ToList();
        var proposals = 0;
        var results = 0;
        while (proposals < trials.Count || results < completed.Count)
        {
            if (proposals < trials.Count && trials[proposals].ProposedAfter <= state.Recorded)
            {
                var stored = trials[proposals++];
                // The planner proposes what it proposed before; its own proposal is what it tracks.
                state.Proposed[stored.Number] = search.Propose() is { } again && again.Number == stored.Number
                    ? again
                    : new ProposedTrial(stored.Number, stored.Trainer, stored.Parameters, stored.Fidelity, stored.Seed);
            }
            else if (results < completed.Count && state.Proposed.ContainsKey(completed[results].Number))
            {
                Record(state, completed[results++]);
            }
            else
            {
                break;
            }
        }

        LogReplayed(sweep.Id, proposals, state.Recorded);
        return state;
    }

    private void StartRefit(SweepRecord sweep, SweepState state)
    {
        if (state.Refitting)
        {
            return;
        }

        state.Refitting = true;
        var token = state.Refit.Token;
        _ = Task.Run(() => RefitAsync(sweep, state, token), CancellationToken.None);
    }

    private async Task RefitAsync(SweepRecord sweep, SweepState state, CancellationToken cancellationToken)
    {
        try
        {
            if (state.Search.Best is not { } best)
            {
                throw new InvalidOperationException(
                    $"no trial succeeded at full fidelity ({state.Recorded} recorded); see 'edgectl sweep trials {sweep.Id} --status failed' for their logs");
            }

            var summary = state.Search.Summarize(sweep.Id);
            var version = await registry.NextVersionAsync(sweep.ModelName, cancellationToken).ConfigureAwait(false);
            var trained = await state.Search.RefitAsync(best.Trial, summary, sweep.ModelName, version, sweep.Id, cancellationToken).ConfigureAwait(false);
            var published = await registry.PublishAsync(trained, cancellationToken).ConfigureAwait(false);
            await FinishAsync(sweep with
            {
                Status = SweepStatuses.Succeeded,
                BestTrial = best.Trial.Number,
                BestScore = best.Score,
                ModelVersion = published.Version,
                ManifestDigest = published.ManifestDigest,
                FinishedAt = timeProvider.GetUtcNow(),
            }).ConfigureAwait(false);
            LogPublished(sweep.Id, published.Name, published.Version, best.Trial.Number, best.Score);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped: StopAsync recorded it.
        }
        catch (Exception ex)
        {
            LogRefitFailed(sweep.Id, ex);
            await FinishAsync(sweep with { Status = SweepStatuses.Failed, Error = ex.Message, FinishedAt = timeProvider.GetUtcNow() }).ConfigureAwait(false);
        }
    }

    private async Task FinishAsync(SweepRecord sweep)
    {
        await _gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            // A stop that landed during the refit wins.
            var current = await store.GetSweepAsync(sweep.Id, CancellationToken.None).ConfigureAwait(false);
            if (current is not null && SweepStatuses.IsActive(current.Status))
            {
                await store.UpdateSweepAsync(sweep, CancellationToken.None).ConfigureAwait(false);
            }

            _states.TryRemove(sweep.Id, out _);
        }
        finally
        {
            _gate.Release();
        }
    }

    private static SweepInfo ToInfo(SweepRecord sweep, IReadOnlyDictionary<string, int>? counts)
    {
        int Count(string status) => counts?.GetValueOrDefault(status) ?? 0;
        return new SweepInfo(
            sweep.Id, sweep.Status, sweep.Spec, sweep.Dataset.Name, sweep.Dataset.Digest, sweep.ModelName, sweep.Task, sweep.Metric,
            counts?.Values.Sum() ?? 0, Count(TrialStatuses.Queued), Count(TrialStatuses.Leased), Count(TrialStatuses.Succeeded), Count(TrialStatuses.Failed),
            sweep.BestTrial, sweep.BestScore, sweep.ModelVersion, sweep.ManifestDigest, sweep.Error, sweep.CreatedBy, sweep.CreatedAt, sweep.FinishedAt);
    }

    private sealed class SweepState(ISweepSearch search)
    {
        public ISweepSearch Search { get; } = search;

        public Dictionary<int, ProposedTrial> Proposed { get; } = [];

        public int Recorded { get; set; }

        public long LastSequence { get; set; }

        public bool Refitting { get; set; }

        public CancellationTokenSource Refit { get; } = new();
    }

    [LoggerMessage(EventId = 520, Level = LogLevel.Information, Message = "Sweep {SweepId} submitted on {Dataset} ({Digest}): task {Task}, metric {Metric}")]
    private partial void LogSubmitted(string sweepId, string dataset, string digest, string task, string metric);

    [LoggerMessage(EventId = 521, Level = LogLevel.Information, Message = "Sweep {SweepId} stopped; {Cancelled} trials cancelled")]
    private partial void LogStopped(string sweepId, int cancelled);

    [LoggerMessage(EventId = 522, Level = LogLevel.Debug, Message = "Trial {SweepId}/{Number} attempt {Attempt} leased to {WorkerId}")]
    private partial void LogLeased(string sweepId, int number, int attempt, string workerId);

    [LoggerMessage(EventId = 523, Level = LogLevel.Debug, Message = "Trial {SweepId}/{Number} attempt {Attempt} from {WorkerId}: {Outcome}")]
    private partial void LogReported(string sweepId, int number, int attempt, string workerId, string outcome);

    [LoggerMessage(EventId = 524, Level = LogLevel.Warning, Message = "{Count} trial leases expired and were queued again")]
    private partial void LogRequeued(int count);

    [LoggerMessage(EventId = 525, Level = LogLevel.Error, Message = "Sweep {SweepId} failed in the scheduler")]
    private partial void LogStepFailed(string sweepId, Exception exception);

    [LoggerMessage(EventId = 526, Level = LogLevel.Information, Message = "Sweep {SweepId} rebuilt after a restart: {Proposed} trials proposed, {Recorded} results recorded")]
    private partial void LogReplayed(string sweepId, int proposed, int recorded);

    [LoggerMessage(EventId = 527, Level = LogLevel.Information, Message = "Sweep {SweepId} done searching after {Recorded} results ({Reason}); refitting the winner")]
    private partial void LogSearchDone(string sweepId, int recorded, string reason);

    [LoggerMessage(EventId = 528, Level = LogLevel.Information, Message = "Sweep {SweepId} published model {ModelName} version {Version} from trial {Trial} (score {Score})")]
    private partial void LogPublished(string sweepId, string modelName, string version, int trial, double score);

    [LoggerMessage(EventId = 529, Level = LogLevel.Error, Message = "Sweep {SweepId} refit failed")]
    private partial void LogRefitFailed(string sweepId, Exception exception);
}

/// <summary>
/// Runs the sweep scheduler's step every <see cref="SweepOptions.SchedulerIntervalMilliseconds"/>
/// on the replica holding the scheduler lease, so one replica proposes, records and refits; any
/// replica serves the workers' trial leases.
/// </summary>
public sealed partial class SweepScheduler(
    SweepService sweeps, Leases.ReplicaLeases leases, IOptions<SweepOptions> options, TimeProvider timeProvider, ILogger<SweepScheduler> logger) : Microsoft.Extensions.Hosting.BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(options.Value.SchedulerIntervalMilliseconds), timeProvider);
        do
        {
            try
            {
                if (await leases.HoldAsync(Leases.LeaseNames.SweepScheduler, stoppingToken).ConfigureAwait(false) is not null)
                {
                    await sweeps.TickAsync(stoppingToken).ConfigureAwait(false);
                }
                else
                {
                    // Another replica plans meanwhile: replay from the store if the lease comes back.
                    sweeps.ForgetPlanners();
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogTickFailed(ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(EventId = 530, Level = LogLevel.Error, Message = "Sweep scheduler step failed; retrying")]
    private partial void LogTickFailed(Exception exception);
}
