using System.Reflection;
using EdgePlatform.Agent.Core.Packages;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Contracts;
using EdgePlatform.Resilience;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Core.Reconciliation;

/// <summary>
/// The agent's desired-state loop: diff the desired document against what runs, build a plan
/// of commands, run it (undoing executed steps if one fails), record and report the outcome.
/// On start it resumes the last active model from disk, so the device scores while offline.
/// A version that replaced another is on probation for a while: if it errs, the agent goes back
/// to the previous version by itself and reports why. While a new version is on its way it is
/// reported in the incoming slot, step by step (downloading, verifying, staged), beside the
/// primary slot that keeps serving; a version that failed stays there as failed. An experiment's
/// candidate named by the desired state goes through the same checks and steps into the candidate
/// arm beside the primary (the candidate slot); a refused candidate leaves the primary serving alone.
/// </summary>
public sealed partial class Reconciler(
    PackageInstaller installer,
    IModelRuntime runtime,
    ICloudLink link,
    DesiredStateInbox inbox,
    AgentStateStore stateStore,
    TimeProvider timeProvider,
    ILogger<Reconciler> logger,
    IModelHealth? health = null,
    IOptions<ProbationOptions>? probationOptions = null,
    IOptions<AgentOptions>? agentOptions = null) : BackgroundService
{
    public static readonly string AgentVersion =
        typeof(Reconciler).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    private AgentState _state = AgentState.Empty;
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ProbationOptions _probationOptions = probationOptions?.Value ?? new ProbationOptions { WindowSeconds = 0 };

    // Reconciles and probation checks take turns; both change what runs.
    private readonly SemaphoreSlim _turn = new(1, 1);
    private Probation? _probation;

    // One retry run at a time re-posts the newest desired state that failed transiently; each
    // transient failure bumps the count, which tells the run its last try failed again.
    private readonly RetryBackoffOptions _retryBackoff = (agentOptions?.Value ?? new AgentOptions()).ReconcileRetry;
    private DesiredState? _retryDesired;
    private int _transientFailures;
    private Task _retryRun = Task.CompletedTask;

    /// <summary>Telemetry settings of the last applied desired state, or null before the first.</summary>
    public TelemetrySettings? Telemetry { get; private set; }

    /// <summary>Raised after every reconcile with the outcome (for tests and local status).</summary>
    public event Action<ReconcileOutcome>? Reconciled;

    /// <summary>Completes once the state on disk was loaded and the active model resumed.</summary>
    public Task Started => _started.Task;

    public ReportedState BuildReport()
    {
        var state = _state;
        var slots = new List<ModelSlotReport>(3);
        if (state.Active is { } active)
        {
            slots.Add(new ModelSlotReport(ModelSlots.Primary, active.Name, active.Version, active.ManifestDigest, ModelSlotStates.Active, state.ActiveSince ?? timeProvider.GetUtcNow()));
        }

        if (state.Incoming is { } incoming)
        {
            slots.Add(new ModelSlotReport(ModelSlots.Incoming, incoming.Model.Name, incoming.Model.Version, incoming.Model.ManifestDigest, incoming.State, incoming.Since));
        }

        if (state.Candidate is { } candidate)
        {
            var model = candidate.Placement.Model;
            slots.Add(new ModelSlotReport(ModelSlots.Candidate, model.Name, model.Version, model.ManifestDigest, candidate.State, candidate.Since));
        }

        return new ReportedState(AgentVersion, state.DesiredVersion, slots, state.LastError, timeProvider.GetUtcNow());
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _state = stateStore.Load();
        await ResumeAsync(stoppingToken).ConfigureAwait(false);
        _started.TrySetResult();
        link.Connected += ReportAsync;
        var monitor = health is not null && _probationOptions.WindowSeconds > 0 ? WatchProbationAsync(stoppingToken) : Task.CompletedTask;

        await foreach (var desired in inbox.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
        {
            ReconcileOutcome outcome;
            await _turn.WaitAsync(stoppingToken).ConfigureAwait(false);
            try
            {
                outcome = await ReconcileAsync(desired, stoppingToken).ConfigureAwait(false);
                await ReportAsync(stoppingToken).ConfigureAwait(false);
            }
            finally
            {
                _turn.Release();
            }

            Reconciled?.Invoke(outcome);
        }

        await monitor.ConfigureAwait(false);
    }

    public override void Dispose()
    {
        _turn.Dispose();
        base.Dispose();
    }

    /// <summary>
    /// Judges the version on probation: errors above the allowed rate (once enough events were
    /// seen) revert to the previous version; a version that lasts the window is kept. True when it reverted.
    /// </summary>
    internal async Task<bool> CheckProbationAsync(CancellationToken cancellationToken)
    {
        if (_probation is not { } probation || health is null)
        {
            return false;
        }

        var sample = health.Read();
        var errors = sample.Errors - probation.Baseline.Errors;
        var events = sample.Scored - probation.Baseline.Scored + errors;
        var rate = events == 0 ? 0 : (double)errors / events;
        if (events >= _probationOptions.MinEvents && rate > _probationOptions.MaxErrorRate)
        {
            var reason = string.Create(
                System.Globalization.CultureInfo.InvariantCulture,
                $"probation failed for {probation.Version.Name}:{probation.Version.Version}: {errors} of {events} events failed (allowed rate {_probationOptions.MaxErrorRate}); reverted to {probation.Previous.Name}:{probation.Previous.Version}");
            await RevertAsync(probation, reason, cancellationToken).ConfigureAwait(false);
            return true;
        }

        if (timeProvider.GetUtcNow() >= probation.Until)
        {
            _probation = null;
            LogProbationPassed(probation.Version.Name, probation.Version.Version, events, errors);
        }

        return false;
    }

    private async Task WatchProbationAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(_probationOptions.CheckSeconds), timeProvider);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                await _turn.WaitAsync(stoppingToken).ConfigureAwait(false);
                try
                {
                    if (await CheckProbationAsync(stoppingToken).ConfigureAwait(false))
                    {
                        await ReportAsync(stoppingToken).ConfigureAwait(false);
                    }
                }
                finally
                {
                    _turn.Release();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The agent is stopping.
        }
    }

    private async Task RevertAsync(Probation probation, string reason, CancellationToken cancellationToken)
    {
        _probation = null;
        try
        {
            var installed = await installer.LoadInstalledAsync(probation.Previous, cancellationToken).ConfigureAwait(false);
            runtime.Activate(await runtime.StageAsync(installed, cancellationToken).ConfigureAwait(false));
        }
        catch (Exception ex) when (ex is PackageRejectedException or ModelStageException)
        {
            // The previous version is gone or broken too: keep serving the one on probation, and say so.
            _state = _state with { LastError = $"{reason} — but the previous version could not be loaded: {ex.Message}; still serving {probation.Version.Version}" };
            await TrySaveAsync(cancellationToken).ConfigureAwait(false);
            LogRevertFailed(probation.Version.Name, probation.Version.Version, ex.Message);
            return;
        }

        var now = timeProvider.GetUtcNow();
        _state = new AgentState(_state.DesiredVersion, probation.Previous, null, reason, now, probation.Version, new IncomingModel(probation.Version, ModelSlotStates.Failed, now), _state.Candidate);
        await TrySaveAsync(cancellationToken).ConfigureAwait(false);
        LogReverted(probation.Version.Name, probation.Version.Version, probation.Previous.Version, reason);
    }

    public async Task ReportAsync(CancellationToken cancellationToken)
    {
        if (!link.IsConnected)
        {
            return;
        }

        try
        {
            await link.PublishReportedAsync(BuildReport(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The cloud link republishes the report when it reconnects.
            LogReportFailed(ex.Message);
        }
    }

    private async Task ResumeAsync(CancellationToken cancellationToken)
    {
        await ResumePrimaryAsync(cancellationToken).ConfigureAwait(false);
        await ResumeCandidateAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task ResumePrimaryAsync(CancellationToken cancellationToken)
    {
        if (_state.Active is not { } active)
        {
            return;
        }

        try
        {
            var installed = await installer.LoadInstalledAsync(active, cancellationToken).ConfigureAwait(false);
            runtime.Activate(await runtime.StageAsync(installed, cancellationToken).ConfigureAwait(false));
            LogResumed(active.Name, active.Version, active.ManifestDigest);
        }
        catch (Exception ex) when (ex is PackageRejectedException or ModelStageException)
        {
            _state = _state with { LastError = $"could not resume {active.Name}:{active.Version}: {ex.Message}" };
            LogResumeFailed(active.Name, active.Version, ex.Message);
        }
    }

    /// <summary>
    /// Re-verifies the candidate arm from disk as the primary is, and runs it again with its
    /// placement; one that no longer verifies or loads is reported failed, the primary serving alone.
    /// </summary>
    private async Task ResumeCandidateAsync(CancellationToken cancellationToken)
    {
        if (_state.Candidate is not { State: ModelSlotStates.Active } candidate)
        {
            return;
        }

        var model = candidate.Placement.Model;
        try
        {
            var installed = await installer.LoadInstalledAsync(model, cancellationToken).ConfigureAwait(false);
            runtime.ActivateCandidate(await runtime.StageAsync(installed, cancellationToken).ConfigureAwait(false), candidate.Placement);
            LogCandidateResumed(model.Name, model.Version, model.ManifestDigest, candidate.Placement.Mode);
        }
        catch (Exception ex) when (ex is PackageRejectedException or ModelStageException)
        {
            var error = $"could not resume candidate {model.Name}:{model.Version}: {ex.Message}";
            _state = _state with
            {
                LastError = JoinErrors(_state.LastError, error),
                Candidate = candidate with { State = ModelSlotStates.Failed, Since = timeProvider.GetUtcNow(), Error = error },
            };
            LogCandidateResumeFailed(model.Name, model.Version, ex.Message);
        }
    }

    internal async Task<ReconcileOutcome> ReconcileAsync(DesiredState desired, CancellationToken cancellationToken)
    {
        if (desired.Version < _state.DesiredVersion)
        {
            LogStale(desired.Version, _state.DesiredVersion);
            return new ReconcileOutcome(desired.Version, false, $"desired version {desired.Version} is older than {_state.DesiredVersion}, ignored");
        }

        // The primary first, so the candidate's steps are reported beside the version that serves.
        var seenVersion = _state.DesiredVersion;
        var primary = await ReconcilePrimaryAsync(desired, cancellationToken).ConfigureAwait(false);
        var candidateError = await ReconcileCandidateAsync(desired, seenVersion, cancellationToken).ConfigureAwait(false);
        return candidateError is null
            ? primary
            : new ReconcileOutcome(desired.Version, false, JoinErrors(primary.Error, candidateError));
    }

    private async Task<ReconcileOutcome> ReconcilePrimaryAsync(DesiredState desired, CancellationToken cancellationToken)
    {
        Telemetry = desired.Telemetry;
        var target = desired.Deployment?.Model;
        var current = _state.Active;
        if (desired.Version == _state.DesiredVersion && target is not null && _state.RevertedFrom is { } reverted && SameRelease(target, reverted))
        {
            // The same document again (a retained message on reconnect): the verdict stands.
            return new ReconcileOutcome(desired.Version, false, _state.LastError);
        }

        if (target is null || SameRelease(target, current))
        {
            _state = _state with { DesiredVersion = desired.Version, LastError = null, Incoming = null };
            await TrySaveAsync(cancellationToken).ConfigureAwait(false);
            return new ReconcileOutcome(desired.Version, true, null);
        }

        var next = new AgentState(desired.Version, target, current, null, timeProvider.GetUtcNow(), Candidate: _state.Candidate);

        // Each step says, before it runs, where the new version is; staged is reported once it is
        // loaded and warmed, just before it takes over.
        PlanStep[] plan =
        [
            new(new DownloadPackageCommand(installer, target), ModelSlotStates.Downloading),
            new(new VerifyPackageCommand(installer, target), ModelSlotStates.Verifying),
            new(new StageModelCommand(runtime), null),
            new(new ActivateModelCommand(runtime, installer), ModelSlotStates.Staged),
            new(new RecordStateCommand(stateStore, next, _state), null),
        ];

        var (error, transient) = await RunPlanAsync(
            target,
            plan,
            step => _state with { DesiredVersion = desired.Version, LastError = null, Incoming = new IncomingModel(target, step, timeProvider.GetUtcNow()) },
            cancellationToken).ConfigureAwait(false);
        if (error is null)
        {
            _state = next;
            _probation = current is not null && health is not null && _probationOptions.WindowSeconds > 0
                ? new Probation(target, current, health.Read(), timeProvider.GetUtcNow().AddSeconds(_probationOptions.WindowSeconds))
                : null;
            LogActivated(target.Name, target.Version, target.ManifestDigest, desired.Version);
            return new ReconcileOutcome(desired.Version, true, null);
        }

        // The desired version counts as seen even when refused, so it cannot be replayed later. A
        // version that will be retried stays at the step it reached; a refused one is failed.
        _state = _state with
        {
            DesiredVersion = desired.Version,
            LastError = error,
            Incoming = transient ? _state.Incoming : new IncomingModel(target, ModelSlotStates.Failed, timeProvider.GetUtcNow()),
        };
        await TrySaveAsync(cancellationToken).ConfigureAwait(false);
        LogRefused(target.Name, target.Version, target.ManifestDigest, error, current?.Version ?? "none");
        if (transient)
        {
            ScheduleRetry(desired, cancellationToken);
        }

        return new ReconcileOutcome(desired.Version, false, error);
    }

    /// <summary>
    /// Brings the candidate arm to what the desired state's experiment names: nothing (back to the
    /// control alone), the running candidate (a changed policy is applied in place), or a new one,
    /// downloaded, verified, staged and activated through the same checks as the primary. Returns
    /// the error when the candidate was refused; the primary serves alone then.
    /// </summary>
    private async Task<string?> ReconcileCandidateAsync(DesiredState desired, long seenVersion, CancellationToken cancellationToken)
    {
        var wanted = desired.Deployment?.Experiment?.Candidate;
        var held = _state.Candidate;
        if (wanted is null)
        {
            if (held is not null || runtime.Candidate is not null)
            {
                runtime.DeactivateCandidate();
                _state = _state with { Candidate = null };
                await TrySaveAsync(cancellationToken).ConfigureAwait(false);
                LogCandidateRemoved(held?.Placement.Model.Name ?? runtime.Candidate?.Reference.Name ?? "none", desired.Version);
            }

            return null;
        }

        var model = wanted.Model;
        var sameRelease = held is not null && SameRelease(model, held.Placement.Model);
        if (sameRelease && held!.State == ModelSlotStates.Failed && desired.Version == seenVersion)
        {
            // The same document again (a retained message on reconnect): the verdict stands.
            var verdict = held.Error ?? $"candidate {model.Name}:{model.Version} failed";
            _state = _state with { LastError = JoinErrors(_state.LastError, verdict) };
            return verdict;
        }

        if (CandidatePlacementRules.Problem(wanted) is { } problem)
        {
            return await RefuseCandidateAsync(desired, wanted, $"candidate placement: {problem}", transient: false, cancellationToken).ConfigureAwait(false);
        }

        if (sameRelease && held!.State == ModelSlotStates.Active && runtime.Candidate is not null)
        {
            if (held.Placement != wanted)
            {
                runtime.SetCandidateArms(wanted);
                _state = _state with { Candidate = held with { Placement = wanted } };
                await TrySaveAsync(cancellationToken).ConfigureAwait(false);
                LogCandidateArmsChanged(model.Name, model.Version, wanted.Mode, wanted.Percent, wanted.KeyField);
            }

            return null;
        }

        var next = _state with { DesiredVersion = desired.Version, Candidate = new CandidateArm(wanted, ModelSlotStates.Active, timeProvider.GetUtcNow()) };
        PlanStep[] plan =
        [
            new(new DownloadPackageCommand(installer, model), ModelSlotStates.Downloading),
            new(new VerifyPackageCommand(installer, model), ModelSlotStates.Verifying),
            new(new StageModelCommand(runtime), null),
            new(new ActivateCandidateCommand(runtime, wanted), ModelSlotStates.Staged),
            new(new RecordStateCommand(stateStore, next, _state), null),
        ];

        // The candidate's steps leave the primary's outcome (its error, if any) as it is.
        var (error, transient) = await RunPlanAsync(
            model,
            plan,
            step => _state with { DesiredVersion = desired.Version, Candidate = new CandidateArm(wanted, step, timeProvider.GetUtcNow()) },
            cancellationToken).ConfigureAwait(false);
        if (error is null)
        {
            _state = next with { LastError = _state.LastError };
            LogCandidateActivated(model.Name, model.Version, model.ManifestDigest, wanted.Mode, wanted.Percent, desired.Version);
            return null;
        }

        return await RefuseCandidateAsync(desired, wanted, $"candidate {error}", transient, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The primary serves alone: a candidate running before is not the one the experiment names now.
    /// A refused candidate is failed with the reason; one that will be retried stays at the step it reached.
    /// </summary>
    private async Task<string> RefuseCandidateAsync(DesiredState desired, ExperimentCandidate wanted, string error, bool transient, CancellationToken cancellationToken)
    {
        runtime.DeactivateCandidate();
        var now = timeProvider.GetUtcNow();
        _state = _state with
        {
            DesiredVersion = desired.Version,
            LastError = JoinErrors(_state.LastError, error),
            Candidate = transient && _state.Candidate is { } reached
                ? reached with { Error = error }
                : new CandidateArm(wanted, ModelSlotStates.Failed, now, error),
        };
        await TrySaveAsync(cancellationToken).ConfigureAwait(false);
        LogCandidateRefused(wanted.Model?.Name ?? "none", wanted.Model?.Version ?? "none", error);
        if (transient)
        {
            ScheduleRetry(desired, cancellationToken);
        }

        return error;
    }

    private static string JoinErrors(string? first, string second) =>
        first is null || first.Contains(second, StringComparison.Ordinal) ? first ?? second : $"{first}; {second}";

    /// <summary>
    /// The same package under the same name and version, run the same way; a known digest under
    /// another name is verified afresh, and a release moved into or out of its container is staged
    /// again on its new runtime.
    /// </summary>
    private static bool SameRelease(ModelReference? target, ModelReference? current) =>
        target is not null
        && current is not null
        && string.Equals(target.ManifestDigest, current.ManifestDigest, StringComparison.Ordinal)
        && string.Equals(target.Name, current.Name, StringComparison.Ordinal)
        && string.Equals(target.Version, current.Version, StringComparison.Ordinal)
        && target.RunsInContainer == current.RunsInContainer;

    /// <summary>
    /// Records bookkeeping-only changes; a failure (a full disk, say) is logged and the loop goes
    /// on, since the running model is unaffected and the next reconcile writes the state again.
    /// </summary>
    private async Task TrySaveAsync(CancellationToken cancellationToken)
    {
        try
        {
            await stateStore.SaveAsync(_state, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            LogStateNotSaved(ex.Message);
        }
    }

    /// <summary>
    /// A download cut off or a registry that cannot be reached is retried with backoff (the
    /// partial download resumes); a refused package waits for the next desired state.
    /// </summary>
    private void ScheduleRetry(DesiredState desired, CancellationToken cancellationToken)
    {
        _retryDesired = desired;
        Interlocked.Increment(ref _transientFailures);
        if (_retryRun.IsCompleted)
        {
            _retryRun = Task.Run(() => RetryAsync(cancellationToken), cancellationToken);
        }
    }

    /// <summary>
    /// Pauses (growing, jittered), re-posts the desired state and waits for its outcome, until a
    /// reconcile no longer fails transiently or a newer desired state took its place.
    /// </summary>
    private async Task RetryAsync(CancellationToken cancellationToken)
    {
        var retry = RetryPipelines.Create(
            _retryBackoff,
            timeProvider,
            ex => ex is ReconcileStillFailingException,
            failure => LogRetry(_retryDesired!.Version, failure.Delay.TotalSeconds));

        try
        {
            // A failure that came while the run was finishing would find it still running: go round again.
            while (await RetryUntilSettledAsync(retry, cancellationToken).ConfigureAwait(false) != Volatile.Read(ref _transientFailures))
            {
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The agent is stopping.
        }
    }

    /// <summary>Runs one retry streak; returns the count of transient failures it has accounted for.</summary>
    private async Task<int> RetryUntilSettledAsync(Polly.ResiliencePipeline retry, CancellationToken cancellationToken)
    {
        // The reconcile that started this streak already failed: the first try only pauses.
        var failuresSeen = -1;
        await retry.ExecuteAsync(
            async ct =>
            {
                var failures = Volatile.Read(ref _transientFailures);
                if (failuresSeen < 0)
                {
                    failuresSeen = failures;
                    throw new ReconcileStillFailingException();
                }

                var desired = _retryDesired!;
                if (_state.DesiredVersion > desired.Version)
                {
                    failuresSeen = failures;
                    return;
                }

                var reconciled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                void OnReconciled(ReconcileOutcome _) => reconciled.TrySetResult();
                Reconciled += OnReconciled;
                try
                {
                    inbox.Post(desired);
                    await reconciled.Task.WaitAsync(ct).ConfigureAwait(false);
                }
                finally
                {
                    Reconciled -= OnReconciled;
                }

                failuresSeen = Volatile.Read(ref _transientFailures);
                if (failuresSeen != failures)
                {
                    throw new ReconcileStillFailingException();
                }
            },
            cancellationToken).ConfigureAwait(false);
        return failuresSeen;
    }

    /// <summary>Runs a plan; before each reported step <paramref name="stepState"/> gives the state that says where the version is.</summary>
    private async Task<(string? Error, bool Transient)> RunPlanAsync(ModelReference target, IReadOnlyList<PlanStep> plan, Func<string, AgentState> stepState, CancellationToken cancellationToken)
    {
        var context = new ReconcileContext();
        var executed = new Stack<ICommand>();
        foreach (var (command, step) in plan)
        {
            try
            {
                if (step is not null)
                {
                    // The step is reported for the desired state being worked on, so the cloud
                    // reads it as this version's progress.
                    _state = stepState(step);
                    LogStep(target.Name, target.Version, step);
                    await ReportAsync(cancellationToken).ConfigureAwait(false);
                }

                await command.ExecuteAsync(context, cancellationToken).ConfigureAwait(false);
                executed.Push(command);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                while (executed.TryPop(out var done))
                {
                    try
                    {
                        await done.UndoAsync(context, cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception undoError) when (undoError is not OperationCanceledException)
                    {
                        LogUndoFailed(done.Name, undoError.Message);
                    }
                }

                context.Staged?.Dispose();
                return ($"{command.Name}: {ex.Message}", ex is HttpRequestException or IOException or TimeoutException or TaskCanceledException);
            }
        }

        return (null, false);
    }

    [LoggerMessage(EventId = 1213, Level = LogLevel.Information, Message = "Candidate {Name}:{Version} ({ManifestDigest}) is active beside the primary, {Mode} at {Percent}% (desired version {DesiredVersion})")]
    private partial void LogCandidateActivated(string name, string version, string manifestDigest, string mode, double percent, long desiredVersion);

    [LoggerMessage(EventId = 1214, Level = LogLevel.Error, Message = "Refused candidate {Name}:{Version}: {Reason}; the primary serves alone")]
    private partial void LogCandidateRefused(string name, string version, string reason);

    [LoggerMessage(EventId = 1215, Level = LogLevel.Information, Message = "Candidate {Name} removed (desired version {DesiredVersion} names none); the primary serves alone")]
    private partial void LogCandidateRemoved(string name, long desiredVersion);

    [LoggerMessage(EventId = 1216, Level = LogLevel.Information, Message = "Candidate {Name}:{Version} now shares events {Mode} at {Percent}% by '{KeyField}'")]
    private partial void LogCandidateArmsChanged(string name, string version, string mode, double percent, string keyField);

    [LoggerMessage(EventId = 1217, Level = LogLevel.Information, Message = "Resumed candidate {Name}:{Version} ({ManifestDigest}) from disk, {Mode}")]
    private partial void LogCandidateResumed(string name, string version, string manifestDigest, string mode);

    [LoggerMessage(EventId = 1218, Level = LogLevel.Error, Message = "Could not resume candidate {Name}:{Version} from disk: {Reason}; the primary serves alone")]
    private partial void LogCandidateResumeFailed(string name, string version, string reason);

    [LoggerMessage(EventId = 1209, Level = LogLevel.Error, Message = "Reverted {Name}:{Version} to version {Previous}: {Reason}")]
    private partial void LogReverted(string name, string version, string previous, string reason);

    [LoggerMessage(EventId = 1210, Level = LogLevel.Critical, Message = "Could not revert {Name}:{Version} after it failed probation: {Reason}")]
    private partial void LogRevertFailed(string name, string version, string reason);

    [LoggerMessage(EventId = 1211, Level = LogLevel.Information, Message = "{Name}:{Version} passed probation: {Events} events, {Errors} errors")]
    private partial void LogProbationPassed(string name, string version, long events, long errors);

    [LoggerMessage(EventId = 1212, Level = LogLevel.Information, Message = "Model {Name}:{Version}: {Step}")]
    private partial void LogStep(string name, string version, string step);

    [LoggerMessage(EventId = 1200, Level = LogLevel.Information, Message = "Model {Name}:{Version} ({ManifestDigest}) is active (desired version {DesiredVersion})")]
    private partial void LogActivated(string name, string version, string manifestDigest, long desiredVersion);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Error, Message = "Refused model {Name}:{Version} ({ManifestDigest}): {Reason}; still serving version {Current}")]
    private partial void LogRefused(string name, string version, string manifestDigest, string reason, string current);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Warning, Message = "Ignored desired version {Version}: already applied version {Applied}")]
    private partial void LogStale(long version, long applied);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Information, Message = "Resumed model {Name}:{Version} ({ManifestDigest}) from disk")]
    private partial void LogResumed(string name, string version, string manifestDigest);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Error, Message = "Could not resume model {Name}:{Version} from disk: {Reason}")]
    private partial void LogResumeFailed(string name, string version, string reason);

    [LoggerMessage(EventId = 1205, Level = LogLevel.Warning, Message = "Undo of '{Command}' failed: {Reason}")]
    private partial void LogUndoFailed(string command, string reason);

    [LoggerMessage(EventId = 1208, Level = LogLevel.Information, Message = "Will retry desired version {Version} in {Seconds} s")]
    private partial void LogRetry(long version, double seconds);

    [LoggerMessage(EventId = 1207, Level = LogLevel.Error, Message = "Could not save the agent state: {Reason}")]
    private partial void LogStateNotSaved(string reason);

    [LoggerMessage(EventId = 1206, Level = LogLevel.Warning, Message = "Could not publish the reported state: {Reason}")]
    private partial void LogReportFailed(string reason);
}

/// <summary>A retried reconcile failed transiently again; it only tells the retry run to pause and go on.</summary>
internal sealed class ReconcileStillFailingException : Exception
{
    public ReconcileStillFailingException()
        : base("the retried reconcile failed again")
    {
    }
}

public sealed record ReconcileOutcome(long DesiredVersion, bool Succeeded, string? Error);

/// <summary>A command of a plan and the incoming slot state reported before it runs (null: unchanged).</summary>
internal sealed record PlanStep(ICommand Command, string? Reports);

/// <summary>A version just activated over <see cref="Previous"/>, watched until <see cref="Until"/>.</summary>
internal sealed record Probation(ModelReference Version, ModelReference Previous, ModelHealthSample Baseline, DateTimeOffset Until);
