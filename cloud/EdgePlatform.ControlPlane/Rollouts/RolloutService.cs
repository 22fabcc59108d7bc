using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Leases;
using EdgePlatform.ControlPlane.Models;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Rollouts;

/// <summary>
/// Staged rollouts: each selected device gets a fixed position from a hash of the rollout id and
/// its id, stages open in order after each bake, an optional exponential rate limits how fast an
/// open stage's devices are sent the version, gates read from reported twins and per-minute
/// telemetry decide whether the next stage opens, and a failed gate rolls every touched device
/// back to the model it had. <see cref="TickAsync(CancellationToken)"/> does the work; <see cref="RolloutWorker"/> calls it.
/// </summary>
public sealed partial class RolloutService(
    ModelRegistry registry,
    IDeviceStore devices,
    IRolloutStore rollouts,
    ITelemetryStore telemetry,
    DesiredStateWriter writer,
    IOptions<EnrollmentOptions> enrollment,
    IOptions<RolloutOptions> options,
    TimeProvider timeProvider,
    ILogger<RolloutService> logger,
    IEnumerable<IDeviceClaimSource>? otherClaims = null) : IDisposable, IDeviceClaimSource
{
    /// <summary>Most devices one page of <c>GET /api/v1/rollouts/{id}</c> returns.</summary>
    public const int MaxPageSize = 1000;

    /// <summary>Devices per page when the caller does not say.</summary>
    public const int DefaultPageSize = 100;

    private const int MaxStages = 20;

    // Raw quality records the quality gate reads over one window: one per device, version and arm each telemetry interval.
    private const int MaxQualityRecords = 1_000_000;

    private static readonly string[] LiveStates = [RolloutStates.Running, RolloutStates.Paused, RolloutStates.Completed];

    // One at a time: ticks and operator commands change the same rollouts.
    private readonly SemaphoreSlim _writer = new(1, 1);

    // The lease the running tick writes under (null for operator commands and unleased ticks).
    private LeaseFence? _fence;

    // The device entries of live rollouts as this service last wrote or read them, good while
    // the rollout's update time is unchanged (every save moves it): an idle tick then reads the
    // fleet and the rollouts, not every rollout's device rows again.
    private readonly Dictionary<string, (DateTimeOffset UpdatedAt, IReadOnlyList<RolloutDevice> Entries)> _entries = new(StringComparer.Ordinal);

    public async Task<RolloutInfo> CreateAsync(CreateRolloutRequest? request, string createdBy, CancellationToken cancellationToken)
    {
        if (request is null)
        {
            throw new RequestValidationException("body", "expected a JSON object with model, selector and stages");
        }

        if (string.IsNullOrWhiteSpace(request.Model))
        {
            throw new RequestValidationException("model", "is required, as a model name, name:version or name@alias");
        }

        var selector = Selector.ParseRequestField(request.Selector);
        var stages = ValidateStages(request.Stages);
        var gates = ValidateGates(request.Gates ?? new RolloutGates());
        var rate = ValidateRate(request.Rate);
        var timeout = request.DeviceTimeoutSeconds ?? options.Value.DefaultDeviceTimeoutSeconds;
        if (timeout < 10)
        {
            throw new RequestValidationException("deviceTimeoutSeconds", "must be at least 10");
        }

        var runtime = ModelRuntimes.Parse(request.Runtime, "runtime");
        var (model, alias) = await registry.ResolveReferenceAsync(request.Model.Trim(), cancellationToken).ConfigureAwait(false);
        var now = timeProvider.GetUtcNow();
        var id = $"ro-{now:yyyyMMddHHmmss}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
        var rollout = new RolloutInfo(
            id, model.ToReference(runtime), alias, selector.Text, request.Priority ?? 0, stages, gates, rate, timeout,
            RolloutStates.Running, 0, now, now, now, null);

        await _writer.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await rollouts.SaveRolloutAsync(rollout, [], fence: null, cancellationToken).ConfigureAwait(false);
            _entries[id] = (rollout.UpdatedAt, []);
            LogCreated(id, model.Name, model.Version, alias ?? "-", selector.Text, stages.Count, createdBy);
            // The first stage starts now rather than at the next tick.
            await TickLockedAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writer.Release();
        }

        return await GetAsync(id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every rollout with its device counts; no device lists.</summary>
    public Task<IReadOnlyList<RolloutInfo>> ListAsync(CancellationToken cancellationToken) => rollouts.ListRolloutsAsync(null, withCounts: true, cancellationToken);

    public async Task<RolloutInfo> GetAsync(string id, CancellationToken cancellationToken) =>
        await rollouts.GetRolloutAsync(id, cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException($"rollout '{id}' does not exist");

    /// <summary>
    /// The rollout and one page of its devices by device id: those after <paramref name="after"/>,
    /// only in <paramref name="state"/> when given, at most <paramref name="limit"/> (default
    /// <see cref="DefaultPageSize"/>, at most <see cref="MaxPageSize"/>).
    /// </summary>
    public async Task<RolloutDetail> GetDetailAsync(string id, string? state, string? after, int? limit, CancellationToken cancellationToken)
    {
        if (state is not null && !RolloutDeviceStates.All.Contains(state, StringComparer.Ordinal))
        {
            throw new RequestValidationException("state", $"'{state}' is not a device state; use one of {string.Join(", ", RolloutDeviceStates.All)}");
        }

        if (limit is < 1 or > MaxPageSize)
        {
            throw new RequestValidationException("limit", string.Create(CultureInfo.InvariantCulture, $"must be between 1 and {MaxPageSize}"));
        }

        var rollout = await GetAsync(id, cancellationToken).ConfigureAwait(false);
        var size = limit ?? DefaultPageSize;

        // One more than asked says whether another page follows.
        var page = await rollouts.PageRolloutDevicesAsync(id, state, string.IsNullOrEmpty(after) ? null : after, size + 1, cancellationToken).ConfigureAwait(false);
        return page.Count > size
            ? new RolloutDetail(rollout, [.. page.Take(size)], page[size - 1].DeviceId)
            : new RolloutDetail(rollout, page, null);
    }

    /// <summary>Stops opening stages and publishing; devices keep what they have.</summary>
    public Task<RolloutInfo> PauseAsync(string id, string actor, CancellationToken cancellationToken) =>
        ChangeAsync(id, actor, "pause", [RolloutStates.Running], progress =>
        {
            progress.Update(progress.Rollout with { State = RolloutStates.Paused, Reason = $"paused by {actor}" });
            return Task.CompletedTask;
        }, cancellationToken);

    /// <summary>Continues a paused rollout; the current stage bakes again in full.</summary>
    public Task<RolloutInfo> ResumeAsync(string id, string actor, CancellationToken cancellationToken) =>
        ChangeAsync(id, actor, "resume", [RolloutStates.Paused], progress =>
        {
            progress.Update(progress.Rollout with { State = RolloutStates.Running, StageStartedAt = progress.Now, Reason = null });
            return Task.CompletedTask;
        }, cancellationToken);

    /// <summary>Stops the rollout for good; devices keep what they have (rollback restores them).</summary>
    public Task<RolloutInfo> AbortAsync(string id, string actor, CancellationToken cancellationToken) =>
        ChangeAsync(id, actor, "abort", [RolloutStates.Running, RolloutStates.Paused], progress =>
        {
            progress.Update(progress.Rollout with { State = RolloutStates.Aborted, Reason = $"aborted by {actor}" });
            return Task.CompletedTask;
        }, cancellationToken);

    /// <summary>Points every device the rollout touched back at the model it had before.</summary>
    public Task<RolloutInfo> RollbackAsync(string id, string actor, CancellationToken cancellationToken) =>
        ChangeAsync(id, actor, "roll back", [RolloutStates.Running, RolloutStates.Paused, RolloutStates.Completed, RolloutStates.Aborted], progress =>
            RollBackLockedAsync(progress, $"rolled back by {actor}", cancellationToken), cancellationToken);

    /// <summary>Advances every live rollout once: assigns new devices, publishes open stages, reads states and gates.</summary>
    public Task TickAsync(CancellationToken cancellationToken) => TickAsync(fence: null, cancellationToken);

    /// <summary>
    /// A tick under the rollouts lease: its saves carry <paramref name="fence"/>, and the tick
    /// stops at the first one the store refuses because the lease moved to another replica.
    /// </summary>
    public async Task TickAsync(LeaseFence? fence, CancellationToken cancellationToken)
    {
        await _writer.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _fence = fence;
            await TickLockedAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (LeaseMovedOnException)
        {
            LogFenced(fence!.Name, fence.Epoch);
        }
        finally
        {
            _fence = null;
            _writer.Release();
        }
    }

    /// <summary>The devices every live rollout selects, for engines that share devices with rollouts.</summary>
    public async Task<IReadOnlyList<DeviceClaim>> ClaimsAsync(CancellationToken cancellationToken)
    {
        var stored = await rollouts.ListRolloutsAsync(LiveStates, withCounts: false, cancellationToken).ConfigureAwait(false);
        var claims = new List<DeviceClaim>(stored.Count);
        foreach (var rollout in stored)
        {
            try
            {
                claims.Add(Claim(rollout, Selector.Parse(rollout.Selector)));
            }
            catch (SelectorSyntaxException)
            {
                // A rollout whose selector cannot be read selects nothing; its own tick pauses it.
            }
        }

        return claims;
    }

    public void Dispose() => _writer.Dispose();

    /// <summary>A device's fixed position in [0, 1) for a rollout; stages take devices in this order.</summary>
    public static double Position(string rolloutId, string deviceId)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes($"{rolloutId}/{deviceId}"), hash);
        return (BinaryPrimitives.ReadUInt64BigEndian(hash) >> 11) * (1.0 / (1UL << 53));
    }

    private async Task<RolloutInfo> ChangeAsync(
        string id, string actor, string action, string[] allowedFrom, Func<RolloutProgress, Task> change, CancellationToken cancellationToken)
    {
        await _writer.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var rollout = await GetAsync(id, cancellationToken).ConfigureAwait(false);
            if (!allowedFrom.Contains(rollout.State, StringComparer.Ordinal))
            {
                throw new ConflictException($"rollout '{id}' is {rollout.State}; only a rollout that is {string.Join(" or ", allowedFrom)} can {action}");
            }

            var entries = await EntriesAsync(rollout, cancellationToken).ConfigureAwait(false);
            var progress = new RolloutProgress(rollout, entries, new Dictionary<string, DeviceRecord>(), new Dictionary<string, DeviceClaim>(), _ => false, timeProvider.GetUtcNow());
            await change(progress).ConfigureAwait(false);
            await SaveAsync(progress, cancellationToken).ConfigureAwait(false);
            LogStateChanged(id, rollout.State, progress.Rollout.State, progress.Rollout.Reason ?? actor);
            // Ownership moves at once: a rollout of lower priority may take the devices back.
            await TickLockedAsync(cancellationToken).ConfigureAwait(false);
            return await GetAsync(id, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writer.Release();
        }
    }

    private async Task TickLockedAsync(CancellationToken cancellationToken)
    {
        // The tick works from device entries, not counts: skip counting every live rollout's devices.
        var stored = await rollouts.ListRolloutsAsync(LiveStates, withCounts: false, cancellationToken).ConfigureAwait(false);
        foreach (var gone in _entries.Keys.Except(stored.Select(r => r.Id), StringComparer.Ordinal).ToList())
        {
            _entries.Remove(gone);
        }

        var selectors = new Dictionary<string, Selector>(StringComparer.Ordinal);
        foreach (var rollout in stored)
        {
            try
            {
                selectors[rollout.Id] = Selector.Parse(rollout.Selector);
            }
            catch (SelectorSyntaxException ex)
            {
                // Only a selector that bypassed the API (or one an older server accepted) gets
                // here: pause that rollout and say why, and let every other one go on.
                await PauseUnreadableAsync(rollout, ex, cancellationToken).ConfigureAwait(false);
            }
        }

        var live = stored.Where(r => selectors.ContainsKey(r.Id)).ToList();
        if (live.Count == 0)
        {
            return;
        }

        var fleet = (await devices.ListDevicesAsync(cancellationToken).ConfigureAwait(false)).ToDictionary(d => d.Id, StringComparer.Ordinal);
        var claims = live.Select(r => Claim(r, selectors[r.Id])).ToList();
        foreach (var source in otherClaims ?? [])
        {
            claims.AddRange(await source.ClaimsAsync(cancellationToken).ConfigureAwait(false));
        }

        var owners = DeviceClaims.Owners(fleet.Values, claims);

        foreach (var rollout in live.OrderByDescending(r => r.Priority))
        {
            var entries = await EntriesAsync(rollout, cancellationToken).ConfigureAwait(false);
            var selector = selectors[rollout.Id];
            var progress = new RolloutProgress(rollout, entries, fleet, owners, d => Eligible(rollout, d) && selector.Matches(d.Tags), timeProvider.GetUtcNow());
            progress.Assign();

            // Reports first: a failure gate stops the rollout before more devices are sent the
            // version, and the rate counts the devices that became active since the last tick.
            progress.ReadDeviceStates();
            if (progress.Rollout.State == RolloutStates.Running)
            {
                await JudgeAsync(progress, cancellationToken).ConfigureAwait(false);
            }

            await PublishReadyAsync(progress, cancellationToken).ConfigureAwait(false);

            if (progress.Changed)
            {
                await SaveAsync(progress, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task PauseUnreadableAsync(RolloutInfo rollout, SelectorSyntaxException problem, CancellationToken cancellationToken)
    {
        if (rollout.State != RolloutStates.Running)
        {
            return;
        }

        var entries = await EntriesAsync(rollout, cancellationToken).ConfigureAwait(false);
        var progress = new RolloutProgress(rollout, entries, new Dictionary<string, DeviceRecord>(), new Dictionary<string, DeviceClaim>(), _ => false, timeProvider.GetUtcNow());
        var reason = $"selector cannot be evaluated: {problem.Message}";
        progress.Update(rollout with { State = RolloutStates.Paused, Reason = reason });
        await SaveAsync(progress, cancellationToken).ConfigureAwait(false);
        LogStateChanged(rollout.Id, rollout.State, RolloutStates.Paused, reason);
    }

    private async Task<IReadOnlyList<RolloutDevice>> EntriesAsync(RolloutInfo rollout, CancellationToken cancellationToken)
    {
        if (_entries.TryGetValue(rollout.Id, out var cached) && cached.UpdatedAt == rollout.UpdatedAt)
        {
            return cached.Entries;
        }

        var entries = await rollouts.ListRolloutDevicesAsync(rollout.Id, cancellationToken).ConfigureAwait(false);
        _entries[rollout.Id] = (rollout.UpdatedAt, entries);
        return entries;
    }

    private async Task SaveAsync(RolloutProgress progress, CancellationToken cancellationToken)
    {
        var rollout = progress.Result();
        _entries.Remove(rollout.Id);
        if (!await rollouts.SaveRolloutAsync(rollout, progress.ChangedEntries, _fence, cancellationToken).ConfigureAwait(false))
        {
            throw new LeaseMovedOnException();
        }

        _entries[rollout.Id] = (rollout.UpdatedAt, progress.Entries);
    }

    /// <summary>Reads the gates of a running rollout; opens the next stage when they hold, rolls back when one fails.</summary>
    private async Task JudgeAsync(RolloutProgress progress, CancellationToken cancellationToken)
    {
        var stage = progress.Rollout.CurrentStage;
        var verdict = progress.FailureGate();
        string? qualityWaiting = null;
        if (verdict is null && progress.Rollout.Gates.QualityMetric is not null)
        {
            // Read at every tick: the confidence sequence stays valid however often it is looked at.
            var quality = await QualityGateAsync(progress, cancellationToken).ConfigureAwait(false);
            (verdict, qualityWaiting) = (quality.Failure, quality.Waiting);
        }

        if (verdict is null && progress.BakeEnded && progress.Settled)
        {
            verdict = await TelemetryGatesAsync(progress, qualityWaiting, cancellationToken).ConfigureAwait(false);
        }

        if (verdict is not null)
        {
            LogGateFailed(progress.Rollout.Id, stage + 1, verdict);
            await RollBackLockedAsync(progress, $"gate failed in stage {stage + 1}: {verdict}", cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<QualityJudgement> QualityGateAsync(RolloutProgress progress, CancellationToken cancellationToken)
    {
        var (from, to) = progress.GateWindow;
        var window = await telemetry.QueryQualityAsync(
            new TelemetryFilter([.. progress.Entries.Select(e => e.DeviceId)], null, null, from, to, MaxQualityRecords), cancellationToken).ConfigureAwait(false);
        IReadOnlyList<(string DeviceId, QualityRecord Record)> baseline = [];
        if (progress.DevicesOnPreviousVersion.Count == 0)
        {
            var (baselineFrom, baselineTo) = progress.BaselineWindow;
            baseline = await telemetry.QueryQualityAsync(
                new TelemetryFilter(progress.DevicesOnNewVersion, null, null, baselineFrom, baselineTo, MaxQualityRecords), cancellationToken).ConfigureAwait(false);
        }

        return progress.QualityGate(window, baseline);
    }

    private async Task<string?> TelemetryGatesAsync(RolloutProgress progress, string? qualityWaiting, CancellationToken cancellationToken)
    {
        var gates = progress.Rollout.Gates;
        IReadOnlyList<TelemetryWindowTotal> window = [];
        IReadOnlyList<TelemetryWindowTotal> baseline = [];
        if (gates.MaxErrorRate is not null || gates.MinEventsScored is not null || gates.MaxP99Regression is not null)
        {
            var (from, to) = progress.GateWindow;
            window = await telemetry.SummarizeWindowAsync([.. progress.Entries.Select(e => e.DeviceId)], from, to, cancellationToken).ConfigureAwait(false);
            if (gates.MaxP99Regression is not null)
            {
                var (baselineFrom, baselineTo) = progress.BaselineWindow;
                baseline = await telemetry.SummarizeWindowAsync(progress.DevicesOnNewVersion, baselineFrom, baselineTo, cancellationToken).ConfigureAwait(false);
            }
        }

        var verdict = progress.TelemetryGates(window, baseline, out var waiting);
        if (verdict is not null)
        {
            return verdict;
        }

        waiting ??= qualityWaiting;

        if (waiting is not null)
        {
            if (waiting != progress.Rollout.Reason)
            {
                progress.Update(progress.Rollout with { Reason = waiting });
            }

            return null;
        }

        progress.Advance();
        if (progress.Rollout.State == RolloutStates.Completed)
        {
            LogCompleted(progress.Rollout.Id);
        }
        else
        {
            // The tick publishes the stage just opened at once, not a tick later.
            LogStageOpened(progress.Rollout.Id, progress.Rollout.CurrentStage + 1, progress.Rollout.Stages.Count);
        }

        return null;
    }

    private static DeviceClaim Claim(RolloutInfo rollout, Selector selector) =>
        new(rollout.Id, DeviceClaim.Rollout, rollout.Priority, rollout.CreatedAt, d => Eligible(rollout, d) && selector.Matches(d.Tags));

    private static bool Eligible(RolloutInfo rollout, DeviceRecord device) =>
        device.DeploymentRefusal is null
        && (!rollout.Gates.RequireAttestation || device.Attestation?.State == AttestationStates.Verified);

    private async Task PublishReadyAsync(RolloutProgress progress, CancellationToken cancellationToken)
    {
        if (progress.Rollout.State is not (RolloutStates.Running or RolloutStates.Completed))
        {
            return;
        }

        var settings = new TelemetrySettings(enrollment.Value.TelemetryIntervalSeconds);
        var deployment = new DeploymentSpec(progress.Rollout.Id, progress.Rollout.Model);
        var ready = progress.ReadyToPublish();
        var written = await writer.WriteManyAsync([.. ready.Select(r => new DesiredWrite(r.Device, deployment))], settings, cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < ready.Count; i++)
        {
            if (written[i] is var (desired, previous))
            {
                progress.Sent(ready[i].Entry, desired.Version, previous);
            }
        }
    }

    /// <summary>
    /// Points every device the rollout sent the version back at the model it had before (or at
    /// none), unless another rollout or deployment has since taken it over: that check and the
    /// write are one compare-and-set, so a device taken over meanwhile keeps its new owner's model.
    /// </summary>
    private async Task RollBackLockedAsync(RolloutProgress progress, string reason, CancellationToken cancellationToken)
    {
        var rollout = progress.Rollout;
        var settings = new TelemetrySettings(enrollment.Value.TelemetryIntervalSeconds);
        var touched = progress.Entries
            .Where(e => e.State is RolloutDeviceStates.Active or RolloutDeviceStates.Failed || RolloutDeviceStates.IsInProgress(e.State))
            .ToList();
        // An operator's rollback comes without the tick's read of the fleet: read the devices then.
        var read = touched.Any(e => progress.Device(e.DeviceId) is null)
            ? (await devices.ListDevicesAsync(cancellationToken).ConfigureAwait(false)).ToDictionary(d => d.Id, StringComparer.Ordinal)
            : [];
        var writes = new List<DesiredWrite>(touched.Count);
        foreach (var entry in touched)
        {
            if ((progress.Device(entry.DeviceId) ?? read.GetValueOrDefault(entry.DeviceId)) is { } device)
            {
                writes.Add(new DesiredWrite(
                    device,
                    entry.Previous is null ? null : new DeploymentSpec($"{rollout.Id}-rollback", entry.Previous),
                    current => current?.Deployment?.DeploymentId == rollout.Id));
            }
        }

        var written = await writer.WriteManyAsync(writes, settings, cancellationToken).ConfigureAwait(false);
        var restored = written.Count(w => w is not null);
        foreach (var entry in touched)
        {
            progress.RolledBack(entry, reason);
        }

        progress.Update(progress.Rollout with { State = RolloutStates.RolledBack, Reason = reason });
        LogRolledBack(rollout.Id, restored, reason);
    }

    private static List<RolloutStage> ValidateStages(IReadOnlyList<RolloutStage>? stages)
    {
        if (stages is not { Count: > 0 })
        {
            throw new RequestValidationException("stages", "give at least one stage, such as [{\"percent\": 10, \"bakeSeconds\": 600}, {\"percent\": 100, \"bakeSeconds\": 0}]");
        }

        if (stages.Count > MaxStages)
        {
            throw new RequestValidationException("stages", $"at most {MaxStages} stages are allowed");
        }

        double lastPercent = 0;
        var lastCount = 0;
        for (var i = 0; i < stages.Count; i++)
        {
            var stage = stages[i];
            var field = string.Create(CultureInfo.InvariantCulture, $"stages[{i}]");
            if (stage is null || stage.Percent.HasValue == stage.Count.HasValue)
            {
                throw new RequestValidationException(field, "give exactly one of percent or count");
            }

            if (stage.BakeSeconds < 0)
            {
                throw new RequestValidationException($"{field}.bakeSeconds", "must not be negative");
            }

            if (stage.Percent is { } percent)
            {
                if (percent is <= 0 or > 100 || double.IsNaN(percent) || percent <= lastPercent)
                {
                    throw new RequestValidationException($"{field}.percent", $"must be above the previous stage's {lastPercent}% and at most 100 (stages are cumulative)");
                }

                lastPercent = percent;
            }
            else if (stage.Count is <= 0 || stage.Count <= lastCount)
            {
                throw new RequestValidationException($"{field}.count", $"must be above the previous stage's {lastCount} (stages are cumulative)");
            }
            else
            {
                lastCount = stage.Count!.Value;
            }
        }

        return [.. stages];
    }

    private static RolloutGates ValidateGates(RolloutGates gates)
    {
        if (gates.MaxFailurePercent is { } failure && (failure is < 0 or > 100 || double.IsNaN(failure)))
        {
            throw new RequestValidationException("gates.maxFailurePercent", "must be between 0 and 100");
        }

        if (gates.MinDevices is < 1)
        {
            throw new RequestValidationException("gates.minDevices", "must be at least 1");
        }

        if (gates.MaxErrorRate is { } rate && (rate is < 0 or > 1 || double.IsNaN(rate)))
        {
            throw new RequestValidationException("gates.maxErrorRate", "must be a fraction between 0 and 1 (errors per event)");
        }

        if (gates.MinEventsScored is < 0)
        {
            throw new RequestValidationException("gates.minEventsScored", "must not be negative");
        }

        if (gates.MaxP99Regression is { } regression && (regression < 1 || double.IsNaN(regression)))
        {
            throw new RequestValidationException("gates.maxP99Regression", "must be a factor of at least 1 (1.2 allows p99 latency 20% above the previous version's)");
        }

        if (gates.QualityMetric is null)
        {
            if (gates.QualityMargin is not null || gates.QualityAlpha is not null)
            {
                throw new RequestValidationException("gates.qualityMetric", "is required with qualityMargin or qualityAlpha: 'accuracy' (classification) or 'mae' (regression)");
            }

            return gates;
        }

        if (!QualityGateMetrics.All.Contains(gates.QualityMetric, StringComparer.Ordinal))
        {
            throw new RequestValidationException("gates.qualityMetric", $"must be 'accuracy' (classification) or 'mae' (regression), not '{gates.QualityMetric}'");
        }

        if (gates.QualityMargin is not { } margin || double.IsNaN(margin) || margin < 0 || double.IsInfinity(margin))
        {
            throw new RequestValidationException("gates.qualityMargin", "is required with a quality metric: how much worse than the previous version the new one may be, absolute and at least 0 (0.02 for accuracy allows 2 points)");
        }

        if (gates.QualityMetric == QualityGateMetrics.Accuracy && margin >= 1)
        {
            throw new RequestValidationException("gates.qualityMargin", "must be below 1 for accuracy, a fraction of labelled predictions");
        }

        if (gates.QualityAlpha is { } alpha && (double.IsNaN(alpha) || alpha is <= 0 or >= 0.5))
        {
            throw new RequestValidationException("gates.qualityAlpha", "must be above 0 and below 0.5 (0.05 gives a 95% confidence sequence)");
        }

        return gates with { QualityAlpha = gates.QualityAlpha ?? QualityGateMetrics.DefaultAlpha };
    }

    private static RolloutRate? ValidateRate(RolloutRate? rate)
    {
        if (rate is null)
        {
            return null;
        }

        if (rate.BaseRatePerMinute is not { } baseRate || baseRate is < 1 or > 100_000)
        {
            throw new RequestValidationException("rate.baseRatePerMinute", "is required with a rate: devices sent the version per minute at first, 1 to 100000");
        }

        if (rate.IncrementFactor is not { } factor || double.IsNaN(factor) || factor is < 1.1 or > 5)
        {
            throw new RequestValidationException("rate.incrementFactor", "is required with a rate: what the rate is multiplied by at each increase, 1.1 to 5 (as AWS IoT jobs)");
        }

        if (rate.MaxRatePerMinute is not { } maxRate || maxRate < baseRate || maxRate > 100_000)
        {
            throw new RequestValidationException("rate.maxRatePerMinute", string.Create(CultureInfo.InvariantCulture, $"is required with a rate: the most devices per minute, from baseRatePerMinute ({baseRate}) to 100000"));
        }

        if ((rate.IncreaseAfterNotified is null) == (rate.IncreaseAfterSucceeded is null))
        {
            throw new RequestValidationException("rate", "give exactly one increase trigger: increaseAfterNotified (devices sent the version) or increaseAfterSucceeded (devices that reported it active)");
        }

        if (rate.IncreaseAfterNotified is < 1)
        {
            throw new RequestValidationException("rate.increaseAfterNotified", "must be at least 1");
        }

        if (rate.IncreaseAfterSucceeded is < 1)
        {
            throw new RequestValidationException("rate.increaseAfterSucceeded", "must be at least 1");
        }

        return rate;
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Information, Message = "Rollout {RolloutId}: model {Name} version {Version} (alias {Alias}) to '{Selector}' in {Stages} stage(s), created by {CreatedBy}")]
    private partial void LogCreated(string rolloutId, string name, string version, string alias, string selector, int stages, string createdBy);

    [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "Rollout {RolloutId}: stage {Stage} of {Stages} opened")]
    private partial void LogStageOpened(string rolloutId, int stage, int stages);

    [LoggerMessage(EventId = 402, Level = LogLevel.Information, Message = "Rollout {RolloutId} completed")]
    private partial void LogCompleted(string rolloutId);

    [LoggerMessage(EventId = 403, Level = LogLevel.Warning, Message = "Rollout {RolloutId}: gate failed in stage {Stage}: {Verdict}")]
    private partial void LogGateFailed(string rolloutId, int stage, string verdict);

    [LoggerMessage(EventId = 404, Level = LogLevel.Warning, Message = "Rollout {RolloutId} rolled back: {Restored} device(s) restored to their previous model ({Reason})")]
    private partial void LogRolledBack(string rolloutId, int restored, string reason);

    [LoggerMessage(EventId = 406, Level = LogLevel.Warning, Message = "Rollout tick stopped: lease {Lease} moved on from epoch {Epoch} to another replica")]
    private partial void LogFenced(string lease, long epoch);

    [LoggerMessage(EventId = 405, Level = LogLevel.Information, Message = "Rollout {RolloutId}: {From} -> {To} ({Reason})")]
    private partial void LogStateChanged(string rolloutId, string from, string to, string reason);
}
