using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Models;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Rollouts;

/// <summary>
/// Staged rollouts: each selected device gets a fixed position from a hash of the rollout id and
/// its id, stages open in order after each bake, gates read from reported twins and telemetry
/// decide whether the next stage opens, and a failed gate rolls every touched device back to the
/// model it had. <see cref="TickAsync"/> does the work; <see cref="RolloutWorker"/> calls it.
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
    ILogger<RolloutService> logger) : IDisposable
{
    private const int MaxStages = 20;

    // One at a time: ticks and operator commands change the same rollout documents.
    private readonly SemaphoreSlim _writer = new(1, 1);

    public async Task<RolloutInfo> CreateAsync(CreateRolloutRequest? request, string createdBy, CancellationToken cancellationToken)
    {
        if (request is null)
        {
            throw new RequestValidationException("body", "expected a JSON object with model, selector and stages");
        }

        if (string.IsNullOrWhiteSpace(request.Model))
        {
            throw new RequestValidationException("model", "is required, as a model name or name:version");
        }

        var selector = ParseSelector(request.Selector);
        var stages = ValidateStages(request.Stages);
        var gates = ValidateGates(request.Gates ?? new RolloutGates());
        var timeout = request.DeviceTimeoutSeconds ?? options.Value.DefaultDeviceTimeoutSeconds;
        if (timeout < 10)
        {
            throw new RequestValidationException("deviceTimeoutSeconds", "must be at least 10");
        }

        var model = await registry.ResolveAsync(request.Model.Trim(), cancellationToken).ConfigureAwait(false);
        var now = timeProvider.GetUtcNow();
        var id = $"ro-{now:yyyyMMddHHmmss}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
        var rollout = new RolloutInfo(
            id, model.ToReference(), selector.Text, request.Priority ?? 0, stages, gates, timeout,
            RolloutStates.Running, 0, now, now, now, null, []);

        await _writer.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await rollouts.SaveRolloutAsync(rollout, cancellationToken).ConfigureAwait(false);
            LogCreated(id, model.Name, model.Version, selector.Text, stages.Count, createdBy);
            // The first stage starts now rather than at the next tick.
            await TickLockedAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writer.Release();
        }

        return await rollouts.GetRolloutAsync(id, cancellationToken).ConfigureAwait(false) ?? rollout;
    }

    public Task<IReadOnlyList<RolloutInfo>> ListAsync(CancellationToken cancellationToken) => rollouts.ListRolloutsAsync(cancellationToken);

    public async Task<RolloutInfo> GetAsync(string id, CancellationToken cancellationToken) =>
        await rollouts.GetRolloutAsync(id, cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException($"rollout '{id}' does not exist");

    /// <summary>Stops opening stages and publishing; devices keep what they have.</summary>
    public Task<RolloutInfo> PauseAsync(string id, string actor, CancellationToken cancellationToken) =>
        ChangeAsync(id, actor, "pause", [RolloutStates.Running], (rollout, _) =>
            Task.FromResult(rollout with { State = RolloutStates.Paused, Reason = $"paused by {actor}" }), cancellationToken);

    /// <summary>Continues a paused rollout; the current stage bakes again in full.</summary>
    public Task<RolloutInfo> ResumeAsync(string id, string actor, CancellationToken cancellationToken) =>
        ChangeAsync(id, actor, "resume", [RolloutStates.Paused], (rollout, now) =>
            Task.FromResult(rollout with { State = RolloutStates.Running, StageStartedAt = now, Reason = null }), cancellationToken);

    /// <summary>Stops the rollout for good; devices keep what they have (rollback restores them).</summary>
    public Task<RolloutInfo> AbortAsync(string id, string actor, CancellationToken cancellationToken) =>
        ChangeAsync(id, actor, "abort", [RolloutStates.Running, RolloutStates.Paused], (rollout, _) =>
            Task.FromResult(rollout with { State = RolloutStates.Aborted, Reason = $"aborted by {actor}" }), cancellationToken);

    /// <summary>Points every device the rollout touched back at the model it had before.</summary>
    public Task<RolloutInfo> RollbackAsync(string id, string actor, CancellationToken cancellationToken) =>
        ChangeAsync(id, actor, "roll back", [RolloutStates.Running, RolloutStates.Paused, RolloutStates.Completed, RolloutStates.Aborted], (rollout, _) =>
            RollBackLockedAsync(rollout, $"rolled back by {actor}", cancellationToken), cancellationToken);

    /// <summary>Advances every live rollout once: assigns new devices, publishes open stages, reads states and gates.</summary>
    public async Task TickAsync(CancellationToken cancellationToken)
    {
        await _writer.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await TickLockedAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writer.Release();
        }
    }

    public void Dispose() => _writer.Dispose();

    /// <summary>A device's fixed position in [0, 1) for a rollout; stages take devices in this order.</summary>
    public static double Position(string rolloutId, string deviceId)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes($"{rolloutId}/{deviceId}"), hash);
        return (BinaryPrimitives.ReadUInt64BigEndian(hash) >> 11) * (1.0 / (1UL << 53));
    }

    private static bool IsLive(RolloutInfo rollout) =>
        rollout.State is RolloutStates.Running or RolloutStates.Paused or RolloutStates.Completed;

    private async Task<RolloutInfo> ChangeAsync(
        string id, string actor, string action, string[] allowedFrom, Func<RolloutInfo, DateTimeOffset, Task<RolloutInfo>> change, CancellationToken cancellationToken)
    {
        await _writer.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var rollout = await GetAsync(id, cancellationToken).ConfigureAwait(false);
            if (!allowedFrom.Contains(rollout.State, StringComparer.Ordinal))
            {
                throw new ConflictException($"rollout '{id}' is {rollout.State}; only a rollout that is {string.Join(" or ", allowedFrom)} can {action}");
            }

            var now = timeProvider.GetUtcNow();
            var changed = await change(rollout, now).ConfigureAwait(false) with { UpdatedAt = now };
            await rollouts.SaveRolloutAsync(changed, cancellationToken).ConfigureAwait(false);
            LogStateChanged(id, rollout.State, changed.State, changed.Reason ?? actor);
            // Ownership moves at once: a rollout of lower priority may take the devices back.
            await TickLockedAsync(cancellationToken).ConfigureAwait(false);
            return await rollouts.GetRolloutAsync(id, cancellationToken).ConfigureAwait(false) ?? changed;
        }
        finally
        {
            _writer.Release();
        }
    }

    private async Task TickLockedAsync(CancellationToken cancellationToken)
    {
        var all = await rollouts.ListRolloutsAsync(cancellationToken).ConfigureAwait(false);
        var live = all.Where(IsLive).ToList();
        if (live.Count == 0)
        {
            return;
        }

        var fleet = await devices.ListDevicesAsync(cancellationToken).ConfigureAwait(false);
        var selectors = live.ToDictionary(r => r.Id, r => Selector.Parse(r.Selector), StringComparer.Ordinal);
        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var device in fleet)
        {
            // The highest priority wins; on a tie, the newer rollout (as with layered deployments).
            var owner = live
                .Where(r => Eligible(r, device) && selectors[r.Id].Matches(device.Tags))
                .OrderByDescending(r => r.Priority)
                .ThenByDescending(r => r.CreatedAt)
                .ThenByDescending(r => r.Id, StringComparer.Ordinal)
                .FirstOrDefault();
            if (owner is not null)
            {
                owners[device.Id] = owner.Id;
            }
        }

        IReadOnlyList<DeviceTelemetrySummary>? summaries = null;
        foreach (var rollout in live.OrderByDescending(r => r.Priority))
        {
            var progress = new RolloutProgress(rollout, fleet, owners, d => Eligible(rollout, d) && selectors[rollout.Id].Matches(d.Tags), timeProvider.GetUtcNow());
            progress.Assign();
            await PublishOpenStagesAsync(progress, cancellationToken).ConfigureAwait(false);
            progress.ReadDeviceStates();
            var updated = progress.Result();
            if (updated.State == RolloutStates.Running)
            {
                var verdict = progress.FailureGate();
                if (verdict is null && progress.BakeEnded && progress.Settled)
                {
                    summaries ??= await telemetry.SummarizeAsync(null, cancellationToken).ConfigureAwait(false);
                    verdict = progress.TelemetryGates(summaries, out var waiting);
                    if (verdict is null && waiting is null)
                    {
                        updated = progress.Advance();
                        if (updated.State == RolloutStates.Completed)
                        {
                            LogCompleted(rollout.Id);
                        }
                        else
                        {
                            LogStageOpened(rollout.Id, updated.CurrentStage + 1, rollout.Stages.Count);
                            // The stage just opened is published at once, not a tick later.
                            var opened = updated;
                            progress = new RolloutProgress(opened, fleet, owners, d => Eligible(opened, d) && selectors[rollout.Id].Matches(d.Tags), timeProvider.GetUtcNow());
                            progress.Assign();
                            await PublishOpenStagesAsync(progress, cancellationToken).ConfigureAwait(false);
                            updated = progress.Result();
                        }
                    }
                    else if (verdict is null && waiting != updated.Reason)
                    {
                        updated = updated with { Reason = waiting, UpdatedAt = progress.Now };
                    }
                }

                if (verdict is not null)
                {
                    LogGateFailed(rollout.Id, rollout.CurrentStage + 1, verdict);
                    updated = await RollBackLockedAsync(updated, $"gate failed in stage {rollout.CurrentStage + 1}: {verdict}", cancellationToken).ConfigureAwait(false);
                }
            }

            if (!ReferenceEquals(updated, rollout))
            {
                await rollouts.SaveRolloutAsync(updated, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static bool Eligible(RolloutInfo rollout, DeviceRecord device) =>
        device.DeploymentRefusal is null
        && (!rollout.Gates.RequireAttestation || device.Attestation?.State == AttestationStates.Verified);

    private async Task PublishOpenStagesAsync(RolloutProgress progress, CancellationToken cancellationToken)
    {
        if (progress.Rollout.State is not (RolloutStates.Running or RolloutStates.Completed))
        {
            return;
        }

        var telemetry = new TelemetrySettings(enrollment.Value.TelemetryIntervalSeconds);
        foreach (var (entry, device) in progress.ReadyToPublish())
        {
            if (await writer.WriteAsync(device.Id, new DeploymentSpec(progress.Rollout.Id, progress.Rollout.Model), telemetry, cancellationToken).ConfigureAwait(false)
                is not var (desired, previous))
            {
                continue;
            }

            progress.Set(entry with
            {
                State = RolloutDeviceStates.Deploying,
                Previous = previous,
                DesiredVersion = desired.Version,
                Reason = null,
                Since = progress.Now,
            });
        }
    }

    private async Task<RolloutInfo> RollBackLockedAsync(RolloutInfo rollout, string reason, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        var restored = 0;
        var entries = new List<RolloutDevice>(rollout.Devices.Count);
        foreach (var entry in rollout.Devices)
        {
            if (entry.State is not (RolloutDeviceStates.Deploying or RolloutDeviceStates.Active or RolloutDeviceStates.Failed))
            {
                entries.Add(entry);
                continue;
            }

            var device = await devices.GetDeviceAsync(entry.DeviceId, cancellationToken).ConfigureAwait(false);
            // Only a device this rollout still drives goes back; one another rollout took over keeps that one's model.
            if (device?.Desired?.Deployment?.DeploymentId == rollout.Id)
            {
                var deployment = entry.Previous is null ? null : new DeploymentSpec($"{rollout.Id}-rollback", entry.Previous);
                await writer.WriteAsync(device.Id, deployment, device.Desired.Telemetry, cancellationToken).ConfigureAwait(false);
                restored++;
            }

            entries.Add(entry with { State = RolloutDeviceStates.RolledBack, Reason = entry.Reason ?? reason, Since = now });
        }

        LogRolledBack(rollout.Id, restored, reason);
        return rollout with { State = RolloutStates.RolledBack, Reason = reason, UpdatedAt = now, Devices = entries };
    }

    private static Selector ParseSelector(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new RequestValidationException("selector", "is required, such as site=berlin and hw in (pi4,pi5)");
        }

        try
        {
            return Selector.Parse(text);
        }
        catch (SelectorSyntaxException ex)
        {
            throw new RequestValidationException("selector", ex.Message);
        }
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

        return gates;
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Information, Message = "Rollout {RolloutId}: model {Name} version {Version} to '{Selector}' in {Stages} stage(s), created by {CreatedBy}")]
    private partial void LogCreated(string rolloutId, string name, string version, string selector, int stages, string createdBy);

    [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "Rollout {RolloutId}: stage {Stage} of {Stages} opened")]
    private partial void LogStageOpened(string rolloutId, int stage, int stages);

    [LoggerMessage(EventId = 402, Level = LogLevel.Information, Message = "Rollout {RolloutId} completed")]
    private partial void LogCompleted(string rolloutId);

    [LoggerMessage(EventId = 403, Level = LogLevel.Warning, Message = "Rollout {RolloutId}: gate failed in stage {Stage}: {Verdict}")]
    private partial void LogGateFailed(string rolloutId, int stage, string verdict);

    [LoggerMessage(EventId = 404, Level = LogLevel.Warning, Message = "Rollout {RolloutId} rolled back: {Restored} device(s) restored to their previous model ({Reason})")]
    private partial void LogRolledBack(string rolloutId, int restored, string reason);

    [LoggerMessage(EventId = 405, Level = LogLevel.Information, Message = "Rollout {RolloutId}: {From} -> {To} ({Reason})")]
    private partial void LogStateChanged(string rolloutId, string from, string to, string reason);
}
