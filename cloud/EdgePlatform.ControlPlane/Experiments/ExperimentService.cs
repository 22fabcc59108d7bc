using System.Globalization;
using System.Security.Cryptography;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Experiments.Statistics;
using EdgePlatform.ControlPlane.Leases;
using EdgePlatform.ControlPlane.Models;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Rollouts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Experiments;

/// <summary>
/// The experiment lifecycle: creation with every field checked, assignment of units to arms by
/// the salted bucket rule, delivery through each device's desired state (only to devices the
/// experiment owns by priority against rollouts and other experiments), looks through
/// <see cref="IExperimentAnalyzer"/> with guardrails that stop it, the end date, a user's stop,
/// and promotion of the winner into a staged rollout. <see cref="ExperimentWorker"/> ticks it.
/// </summary>
public sealed partial class ExperimentService(
    ModelRegistry registry,
    IDeviceStore devices,
    IExperimentStore experiments,
    IExperimentAnalyzer analyzer,
    DesiredStateWriter writer,
    RolloutService rollouts,
    ExperimentClaims claims,
    IOptions<EnrollmentOptions> enrollment,
    TimeProvider timeProvider,
    ILogger<ExperimentService> logger) : IDisposable
{
    public const double DefaultAlpha = 0.05;
    public const double DefaultSequentialTuning = 5000;
    public const double DefaultPower = 0.8;

    /// <summary>Stages of a promotion that does not give its own: 10 %, then half, then every device, an hour's bake between.</summary>
    public static IReadOnlyList<RolloutStage> DefaultPromotionStages { get; } =
        [new RolloutStage(10, null, 3600), new RolloutStage(50, null, 3600), new RolloutStage(100, null, 0)];

    /// <summary>Gates of a promotion that does not give its own: stop when more than a tenth of at least five devices fail.</summary>
    public static RolloutGates DefaultPromotionGates { get; } = new(MaxFailurePercent: 10, MinDevices: 5);

    private static readonly string[] Running = [ExperimentStates.Running];

    // One at a time: ticks and user commands change the same experiments and devices.
    private readonly SemaphoreSlim _lock = new(1, 1);

    // The lease the running tick writes under (null for operator commands and unleased ticks).
    private LeaseFence? _fence;

    public async Task<ExperimentInfo> CreateAsync(CreateExperimentRequest? request, string createdBy, CancellationToken cancellationToken)
    {
        if (request is null)
        {
            throw new RequestValidationException("body", "expected a JSON object with name, arms, selector, unit and metric");
        }

        var now = timeProvider.GetUtcNow();
        var name = string.IsNullOrWhiteSpace(request.Name)
            ? throw new RequestValidationException("name", "is required: a short name people will recognise in reports")
            : request.Name.Trim();
        var selector = Selector.ParseRequestField(request.Selector);
        var unit = request.Unit?.Trim();
        if (unit is not (ExperimentUnits.Device or ExperimentUnits.Group or ExperimentUnits.Event))
        {
            throw new RequestValidationException("unit", $"'{unit}' is not a unit; use {ExperimentUnits.Device} (each device an arm), {ExperimentUnits.Group} (devices sharing a tag value share an arm) or {ExperimentUnits.Event} (each device splits its events)");
        }

        var arms = await ValidateArmsAsync(request.Arms, unit, cancellationToken).ConfigureAwait(false);
        string? groupTag = null;
        if (unit == ExperimentUnits.Group)
        {
            groupTag = string.IsNullOrWhiteSpace(request.GroupTag)
                ? throw new RequestValidationException("groupTag", "is required with unit group: the device tag whose value names a device's group, such as site")
                : request.GroupTag.Trim();
        }
        else if (request.GroupTag is not null)
        {
            throw new RequestValidationException("groupTag", "is only for unit group");
        }

        string? mode = null;
        var keyField = string.Empty;
        if (unit == ExperimentUnits.Event)
        {
            mode = request.Mode?.Trim() ?? ExperimentModes.Split;
            if (mode is not (ExperimentModes.Split or ExperimentModes.Shadow))
            {
                throw new RequestValidationException("mode", $"'{mode}' is not a mode; use {ExperimentModes.Split} (each event scored by one arm) or {ExperimentModes.Shadow} (both arms score every event)");
            }

            if (mode == ExperimentModes.Split)
            {
                keyField = string.IsNullOrWhiteSpace(request.KeyField)
                    ? throw new RequestValidationException("keyField", "is required with unit event and mode split: the event field whose value picks each event's arm")
                    : request.KeyField.Trim();
            }
        }
        else if (request.Mode is not null)
        {
            throw new RequestValidationException("mode", "is only for unit event (split or shadow within each device)");
        }

        var metric = ValidateMetric(request.Metric, arms.Tasks);
        var guardrails = ValidateGuardrails(request.Guardrails ?? new ExperimentGuardrails());
        if (request.EndsAt is { } endsAt && endsAt <= now)
        {
            throw new RequestValidationException("endsAt", string.Create(CultureInfo.InvariantCulture, $"{endsAt:O} is not in the future (now {now:O})"));
        }

        var alpha = request.Alpha ?? DefaultAlpha;
        if (double.IsNaN(alpha) || alpha is <= 0 or > 0.5)
        {
            throw new RequestValidationException("alpha", "must be above 0 and at most 0.5 (0.05 gives 95 % intervals)");
        }

        var tuning = request.SequentialTuning ?? DefaultSequentialTuning;
        if (double.IsNaN(tuning) || double.IsInfinity(tuning) || tuning <= 0)
        {
            throw new RequestValidationException("sequentialTuning", "must be above 0: the units per arm at which the confidence sequence is tightest");
        }

        var id = $"ex-{now:yyyyMMddHHmmss}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
        var salt = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var experiment = new ExperimentInfo(
            id, name, arms.Arms, selector.Text, unit, groupTag, keyField, mode, metric, guardrails, request.Priority ?? 0, salt, alpha, tuning,
            ExperimentStates.Running, now, request.EndsAt, null, null);

        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await experiments.SaveExperimentAsync(experiment, [], fence: null, cancellationToken).ConfigureAwait(false);
            var described = string.Join(", ", arms.Arms.Select(a => $"{a.Name}={a.Model.Name}:{a.Model.Version}"));
            LogCreated(id, name, described, selector.Text, unit, createdBy);
            // Devices are placed now rather than at the next tick; rollouts that lost devices say so at once.
            await PlaceLockedAsync(experiment, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
        }

        await rollouts.TickAsync(cancellationToken).ConfigureAwait(false);
        return experiment;
    }

    public Task<IReadOnlyList<ExperimentInfo>> ListAsync(CancellationToken cancellationToken) => experiments.ListExperimentsAsync(null, cancellationToken);

    public async Task<ExperimentInfo> GetAsync(string id, CancellationToken cancellationToken) =>
        await experiments.GetExperimentAsync(id, cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException($"experiment '{id}' does not exist");

    /// <summary>Every device entry of the experiment.</summary>
    public Task<IReadOnlyList<ExperimentDevice>> DevicesAsync(string id, CancellationToken cancellationToken) =>
        experiments.ListExperimentDevicesAsync(id, cancellationToken);

    /// <summary>The latest look (a fresh one when none was taken yet), how many were taken, and every comparison at each.</summary>
    public async Task<ExperimentReport> GetReportAsync(string id, CancellationToken cancellationToken)
    {
        var experiment = await GetAsync(id, cancellationToken).ConfigureAwait(false);
        var looks = await experiments.ListLooksAsync(id, cancellationToken).ConfigureAwait(false);
        if (looks.Count == 0)
        {
            await LookAsync(experiment, cancellationToken).ConfigureAwait(false);
            looks = await experiments.ListLooksAsync(id, cancellationToken).ConfigureAwait(false);
        }

        var latest = looks[^1];
        var history = looks
            .SelectMany(l => l.Comparisons.SelectMany(c => new[]
            {
                new ComparisonLook(l.At, c.Metric, c.Arm, c.AbsoluteDifference, c.AbsoluteLower, c.AbsoluteUpper, Relative: false),
                new ComparisonLook(l.At, c.Metric, c.Arm, c.RelativeDifference, c.RelativeLower, c.RelativeUpper, Relative: true),
            }))
            .ToList();
        return new ExperimentReport(experiment, latest.At, looks.Count, latest.Arms, latest.SampleRatio, latest.Comparisons, latest.Guardrails, latest.Shadow, history);
    }

    /// <summary>Stops a running experiment: every device it still holds goes back to the model it had.</summary>
    public async Task<ExperimentInfo> StopAsync(string id, string actor, CancellationToken cancellationToken)
    {
        ExperimentInfo stopped;
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var experiment = await GetAsync(id, cancellationToken).ConfigureAwait(false);
            if (experiment.State != ExperimentStates.Running)
            {
                throw new ConflictException($"experiment '{id}' is {experiment.State}; only a running experiment can be stopped");
            }

            stopped = await StopLockedAsync(experiment, ExperimentStates.Stopped, $"stopped by {actor}", cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
        }

        // Rollouts that lost devices to the experiment take them back now, not at their next tick.
        await rollouts.TickAsync(cancellationToken).ConfigureAwait(false);
        return stopped;
    }

    /// <summary>
    /// Stops the experiment and starts a staged rollout of the winner's model over its selector,
    /// at its priority: the named arm, or the arm significantly best against the control on the
    /// primary metric at the latest look.
    /// </summary>
    public async Task<RolloutInfo> PromoteAsync(string id, PromoteExperimentRequest? request, string actor, CancellationToken cancellationToken)
    {
        request ??= new PromoteExperimentRequest(null);
        var experiment = await GetAsync(id, cancellationToken).ConfigureAwait(false);
        if (experiment.State == ExperimentStates.Promoted)
        {
            throw new ConflictException($"experiment '{id}' was already promoted into rollout {experiment.PromotedRollout}");
        }

        ExperimentArm winner;
        if (!string.IsNullOrWhiteSpace(request.Arm))
        {
            winner = experiment.Arms.FirstOrDefault(a => a.Name == request.Arm.Trim())
                ?? throw new RequestValidationException("arm", $"'{request.Arm}' is not an arm of experiment '{id}'; its arms: {string.Join(", ", experiment.Arms.Select(a => a.Name))}");
        }
        else
        {
            var looks = await experiments.ListLooksAsync(id, cancellationToken).ConfigureAwait(false);
            var look = looks.Count > 0 ? looks[^1] : await LookAsync(experiment, cancellationToken).ConfigureAwait(false);
            winner = Winner(experiment, look);
        }

        var model = $"{winner.Model.Name}:{winner.Model.Version}";
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            experiment = await GetAsync(id, cancellationToken).ConfigureAwait(false);
            if (experiment.State == ExperimentStates.Running)
            {
                experiment = await StopLockedAsync(experiment, ExperimentStates.Stopped, $"promoting arm {winner.Name} ({model}), by {actor}", cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _lock.Release();
        }

        var rollout = await rollouts.CreateAsync(
            new CreateRolloutRequest(model, experiment.Selector, experiment.Priority, request.Stages ?? DefaultPromotionStages, request.Gates ?? DefaultPromotionGates, Runtime: winner.Model.Runtime),
            actor,
            cancellationToken).ConfigureAwait(false);
        var promoted = experiment with { State = ExperimentStates.Promoted, PromotedRollout = rollout.Id, Reason = $"arm {winner.Name} ({model}) promoted into rollout {rollout.Id} by {actor}" };
        await experiments.SaveExperimentAsync(promoted, [], fence: null, cancellationToken).ConfigureAwait(false);
        LogPromoted(id, winner.Name, model, rollout.Id, actor);
        return rollout;
    }

    /// <summary>Units per arm to detect a difference on a metric; a rate's standard deviation comes from its baseline when not given.</summary>
    public static PowerResult Power(PowerRequest? request)
    {
        if (request is null)
        {
            throw new RequestValidationException("body", "expected a JSON object with metric, baselineValue and minimumDetectableEffect");
        }

        var metric = request.Metric?.Trim();
        if (metric is null || !ExperimentMetricKinds.All.Contains(metric, StringComparer.Ordinal))
        {
            throw new RequestValidationException("metric", $"'{metric}' is not a metric; use {string.Join(", ", ExperimentMetricKinds.All)}");
        }

        var rate = metric is ExperimentMetricKinds.Accuracy or ExperimentMetricKinds.OutcomeRate;
        if (request.BaselineValue is not { } baseline || !double.IsFinite(baseline) || (rate && baseline is <= 0 or >= 1))
        {
            throw new RequestValidationException("baselineValue", rate ? "is required: the control's rate, above 0 and below 1" : "is required: the control's expected value");
        }

        if (request.MinimumDetectableEffect is not { } effect || !double.IsFinite(effect) || effect <= 0)
        {
            throw new RequestValidationException("minimumDetectableEffect", "is required: the smallest absolute difference worth detecting, above 0");
        }

        double deviation;
        if (request.StandardDeviation is { } given)
        {
            deviation = double.IsFinite(given) && given > 0 ? given : throw new RequestValidationException("standardDeviation", "must be above 0");
        }
        else
        {
            deviation = rate
                ? Math.Sqrt(baseline * (1 - baseline))
                : throw new RequestValidationException("standardDeviation", $"is required for {metric}: the per-unit standard deviation (only rates derive it from the baseline)");
        }

        var alpha = request.Alpha ?? DefaultAlpha;
        if (double.IsNaN(alpha) || alpha is <= 0 or > 0.5)
        {
            throw new RequestValidationException("alpha", "must be above 0 and at most 0.5");
        }

        var power = request.Power ?? DefaultPower;
        if (double.IsNaN(power) || power is <= 0 or >= 1)
        {
            throw new RequestValidationException("power", "must be above 0 and below 1 (0.8 detects a true effect of that size 4 times in 5)");
        }

        var arms = request.Arms ?? 2;
        if (arms < 2)
        {
            throw new RequestValidationException("arms", "must be at least 2 (the control and one arm)");
        }

        var perArm = PowerAnalysis.UnitsPerArm(deviation, effect, alpha, power, arms);
        return new PowerResult(metric, baseline, effect, deviation, alpha, power, arms, perArm, perArm * arms, "two-sided test of a difference in means or rates, normal approximation");
    }

    /// <summary>Advances every running experiment once: the end date, new devices, a look and its guardrails.</summary>
    public Task TickAsync(CancellationToken cancellationToken) => TickAsync(fence: null, cancellationToken);

    /// <summary>
    /// A tick under the experiments lease: its saves carry <paramref name="fence"/>, and the tick
    /// stops at the first one the store refuses because the lease moved to another replica.
    /// </summary>
    public async Task TickAsync(LeaseFence? fence, CancellationToken cancellationToken)
    {
        var stoppedAny = false;
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _fence = fence;
            foreach (var experiment in await experiments.ListExperimentsAsync(Running, cancellationToken).ConfigureAwait(false))
            {
                var now = timeProvider.GetUtcNow();
                if (experiment.EndsAt is { } endsAt && now >= endsAt)
                {
                    await StopLockedAsync(experiment, ExperimentStates.Stopped, string.Create(CultureInfo.InvariantCulture, $"ended at {endsAt:O}"), cancellationToken).ConfigureAwait(false);
                    stoppedAny = true;
                    continue;
                }

                await PlaceLockedAsync(experiment, cancellationToken).ConfigureAwait(false);
                var look = await LookAsync(experiment, cancellationToken).ConfigureAwait(false);
                if (look.Guardrails.FirstOrDefault(g => g.Breached) is { } breach)
                {
                    var reason = string.Create(
                        CultureInfo.InvariantCulture,
                        $"guardrail {breach.Guardrail} breached by arm {breach.Arm}: {breach.Value:G6} above the threshold {breach.Threshold:G6}");
                    LogGuardrail(experiment.Id, reason);
                    await StopLockedAsync(experiment, ExperimentStates.Stopped, reason, cancellationToken).ConfigureAwait(false);
                    stoppedAny = true;
                }
            }
        }
        catch (LeaseMovedOnException)
        {
            LogFenced(fence!.Name, fence.Epoch);
            return;
        }
        finally
        {
            _fence = null;
            _lock.Release();
        }

        if (stoppedAny)
        {
            await rollouts.TickAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task SaveAsync(ExperimentInfo experiment, IReadOnlyCollection<ExperimentDevice> changed, CancellationToken cancellationToken)
    {
        if (!await experiments.SaveExperimentAsync(experiment, changed, _fence, cancellationToken).ConfigureAwait(false))
        {
            throw new LeaseMovedOnException();
        }
    }

    public void Dispose() => _lock.Dispose();

    /// <summary>The arm whose primary-metric comparison is significant and best in the metric's direction; refuses when none is.</summary>
    public static ExperimentArm Winner(ExperimentInfo experiment, ExperimentLook look)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        ArgumentNullException.ThrowIfNull(look);
        var lower = ExperimentMetricKinds.LowerIsBetter(experiment.Metric.Kind);
        var primary = look.Comparisons.Where(c => c.Metric == experiment.Metric.Kind).ToList();
        var better = primary
            .Where(c => c.Significant && (lower ? c.AbsoluteUpper < 0 : c.AbsoluteLower > 0))
            .OrderBy(c => lower ? c.AbsoluteDifference : -c.AbsoluteDifference)
            .FirstOrDefault();
        if (better is null)
        {
            var intervals = primary.Count == 0
                ? "no comparison was computed yet"
                : string.Join("; ", primary.Select(c => string.Create(
                    CultureInfo.InvariantCulture,
                    $"{c.Arm}: {c.AbsoluteDifference:+0.#####;-0.#####} [{c.AbsoluteLower:0.#####}, {c.AbsoluteUpper:0.#####}] at {c.Level:P0}")));
            throw new ConflictException(
                $"no arm is significantly {(lower ? "lower" : "higher")} than the control '{experiment.Arms[0].Name}' on {experiment.Metric.Kind} ({intervals}); name an arm to promote it anyway");
        }

        return experiment.Arms.First(a => a.Name == better.Arm);
    }

    private async Task<ExperimentLook> LookAsync(ExperimentInfo experiment, CancellationToken cancellationToken)
    {
        var entries = await experiments.ListExperimentDevicesAsync(experiment.Id, cancellationToken).ConfigureAwait(false);
        var assignments = entries.Select(e => new ExperimentUnitAssignment(e.DeviceId, e.Arm, e.Unit)).ToList();
        var look = await analyzer.AnalyzeAsync(experiment, assignments, timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        await experiments.AddLookAsync(experiment.Id, look, cancellationToken).ConfigureAwait(false);
        return look;
    }

    /// <summary>
    /// Places every device the experiment owns and has not placed (new devices, and those a
    /// rollout or experiment of higher priority let go), and marks those it lost as superseded.
    /// </summary>
    private async Task PlaceLockedAsync(ExperimentInfo experiment, CancellationToken cancellationToken)
    {
        var fleet = await devices.ListDevicesAsync(cancellationToken).ConfigureAwait(false);
        var all = new List<DeviceClaim>(await rollouts.ClaimsAsync(cancellationToken).ConfigureAwait(false));
        all.AddRange(await claims.ClaimsAsync(cancellationToken).ConfigureAwait(false));
        var owners = DeviceClaims.Owners(fleet, all);
        var entries = (await experiments.ListExperimentDevicesAsync(experiment.Id, cancellationToken).ConfigureAwait(false))
            .ToDictionary(e => e.DeviceId, StringComparer.Ordinal);
        var now = timeProvider.GetUtcNow();
        var changed = new List<ExperimentDevice>();
        var writes = new List<(DesiredWrite Write, string Arm, string Unit)>();
        var superseded = 0;
        foreach (var device in fleet)
        {
            var owned = owners.TryGetValue(device.Id, out var owner) && owner.Owner == experiment.Id;
            entries.TryGetValue(device.Id, out var entry);
            if (owned && entry?.State != ExperimentDeviceStates.Placed)
            {
                var unit = ExperimentAssignment.UnitOf(experiment, device)!;
                var arm = experiment.Unit == ExperimentUnits.Event
                    ? experiment.Arms[0].Name
                    : ExperimentAssignment.Arm(experiment.Arms, unit, experiment.Salt);
                writes.Add((new DesiredWrite(device, ExperimentAssignment.Deployment(experiment, arm)), arm, unit));
            }
            else if (!owned && entry?.State == ExperimentDeviceStates.Placed)
            {
                changed.Add(entry with { State = ExperimentDeviceStates.Superseded, Reason = owner?.Describe() ?? "no longer selected", UpdatedAt = now });
                superseded++;
            }
        }

        var settings = new TelemetrySettings(enrollment.Value.TelemetryIntervalSeconds);
        var written = await writer.WriteManyAsync([.. writes.Select(w => w.Write)], settings, cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < writes.Count; i++)
        {
            if (written[i] is var (desired, previous))
            {
                var (write, arm, unit) = writes[i];
                changed.Add(new ExperimentDevice(write.Known.Id, arm, unit, ExperimentDeviceStates.Placed, previous, desired.Version, $"placed in arm {arm}", now));
            }
        }

        if (changed.Count > 0)
        {
            await SaveAsync(experiment, changed, cancellationToken).ConfigureAwait(false);
            LogPlaced(experiment.Id, changed.Count - superseded, superseded);
        }
    }

    /// <summary>
    /// Points every device the experiment still holds back at the model it had before, each only
    /// while its desired state still names the experiment (one compare-and-set), so a device a
    /// rollout took meanwhile keeps the rollout's model.
    /// </summary>
    private async Task<ExperimentInfo> StopLockedAsync(ExperimentInfo experiment, string state, string reason, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        var held = (await experiments.ListExperimentDevicesAsync(experiment.Id, cancellationToken).ConfigureAwait(false))
            .Where(e => e.State == ExperimentDeviceStates.Placed)
            .ToList();
        var fleet = (await devices.ListDevicesAsync(cancellationToken).ConfigureAwait(false)).ToDictionary(d => d.Id, StringComparer.Ordinal);
        var writes = new List<DesiredWrite>(held.Count);
        foreach (var entry in held.Where(e => fleet.ContainsKey(e.DeviceId)))
        {
            writes.Add(new DesiredWrite(
                fleet[entry.DeviceId],
                entry.Previous is null ? null : new DeploymentSpec($"{experiment.Id}-restore", entry.Previous),
                current => current?.Deployment?.DeploymentId == experiment.Id));
        }

        var settings = new TelemetrySettings(enrollment.Value.TelemetryIntervalSeconds);
        var written = await writer.WriteManyAsync(writes, settings, cancellationToken).ConfigureAwait(false);
        var restored = written.Count(w => w is not null);
        var stopped = experiment with { State = state, StoppedAt = now, Reason = reason };
        await SaveAsync(
            stopped,
            [.. held.Select(e => e with { State = ExperimentDeviceStates.Restored, Reason = reason, UpdatedAt = now })],
            cancellationToken).ConfigureAwait(false);
        LogStopped(experiment.Id, restored, reason);
        return stopped;
    }

    private async Task<(List<ExperimentArm> Arms, HashSet<string> Tasks)> ValidateArmsAsync(IReadOnlyList<ExperimentArmRequest>? requested, string unit, CancellationToken cancellationToken)
    {
        if (requested is not { Count: >= 2 })
        {
            throw new RequestValidationException("arms", "give at least two arms, the first being the control, such as [{\"name\": \"control\", \"model\": \"sensor:3\"}, {\"name\": \"candidate\", \"model\": \"sensor:4\"}]");
        }

        if (unit == ExperimentUnits.Event && requested.Count != 2)
        {
            throw new RequestValidationException("arms", string.Create(CultureInfo.InvariantCulture, $"an event experiment has exactly two arms, because a device holds one candidate beside its primary model; this one has {requested.Count}"));
        }

        var arms = new List<ExperimentArm>(requested.Count);
        var tasks = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < requested.Count; i++)
        {
            var field = string.Create(CultureInfo.InvariantCulture, $"arms[{i}]");
            var arm = requested[i] ?? throw new RequestValidationException(field, "expected an object with name and model");
            if (string.IsNullOrWhiteSpace(arm.Name))
            {
                throw new RequestValidationException($"{field}.name", "is required");
            }

            var name = arm.Name.Trim();
            if (arms.Any(a => a.Name == name))
            {
                throw new RequestValidationException($"{field}.name", $"'{name}' names another arm too; arm names must differ");
            }

            var runtime = ModelRuntimes.Parse(arm.Runtime, $"{field}.runtime");
            var weight = arm.Weight ?? 1;
            if (!double.IsFinite(weight) || weight <= 0)
            {
                throw new RequestValidationException($"{field}.weight", "must be above 0 (weights are normalised into shares)");
            }

            if (string.IsNullOrWhiteSpace(arm.Model))
            {
                throw new RequestValidationException($"{field}.model", "is required, as a model name, name:version or name@alias");
            }

            ModelRecord model;
            try
            {
                (model, _) = await registry.ResolveReferenceAsync(arm.Model.Trim(), cancellationToken).ConfigureAwait(false);
            }
            catch (RequestValidationException ex)
            {
                throw new RequestValidationException($"{field}.model", ex.Problem);
            }
            catch (NotFoundException ex)
            {
                throw new RequestValidationException($"{field}.model", ex.Message);
            }

            if (string.IsNullOrEmpty(model.Signature))
            {
                throw new RequestValidationException($"{field}.model", $"'{model.Name}:{model.Version}' is not a signed release; devices only accept signed packages");
            }

            tasks.Add((await registry.ReadCardAsync(model, cancellationToken).ConfigureAwait(false)).Task);
            arms.Add(new ExperimentArm(name, model.ToReference(runtime), weight));
        }

        if (tasks.Count > 1)
        {
            throw new RequestValidationException("arms", $"the arms' models do different tasks ({string.Join(", ", tasks.Order(StringComparer.Ordinal))}); compare models of one task");
        }

        return (arms, tasks);
    }

    private static ExperimentMetric ValidateMetric(ExperimentMetric? metric, HashSet<string> tasks)
    {
        if (metric is null || string.IsNullOrWhiteSpace(metric.Kind))
        {
            throw new RequestValidationException("metric.kind", $"is required: one of {string.Join(", ", ExperimentMetricKinds.All)}");
        }

        var kind = metric.Kind.Trim();
        var task = tasks.Single();
        var classification = task is ModelTasks.BinaryClassification or ModelTasks.MulticlassClassification;
        var fits = kind switch
        {
            ExperimentMetricKinds.Accuracy or ExperimentMetricKinds.OutcomeRate => classification,
            ExperimentMetricKinds.LogLoss or ExperimentMetricKinds.Auc => task == ModelTasks.BinaryClassification,
            ExperimentMetricKinds.Mae => task == ModelTasks.Regression,
            _ => throw new RequestValidationException("metric.kind", $"'{kind}' is not a metric; use one of {string.Join(", ", ExperimentMetricKinds.All)}"),
        };
        if (!fits)
        {
            throw new RequestValidationException("metric.kind", $"{kind} does not apply to {task} models (accuracy and outcome-rate: classification; log-loss and auc: binary classification; mae: regression)");
        }

        if (kind == ExperimentMetricKinds.OutcomeRate)
        {
            if (string.IsNullOrWhiteSpace(metric.Outcome) || !ExperimentOutcomes.All.Contains(metric.Outcome.Trim(), StringComparer.Ordinal))
            {
                throw new RequestValidationException("metric.outcome", $"'{metric.Outcome}' is not an outcome; outcome-rate needs one of {string.Join(", ", ExperimentOutcomes.All)}");
            }

            return new ExperimentMetric(kind, metric.Outcome.Trim());
        }

        if (metric.Outcome is not null)
        {
            throw new RequestValidationException("metric.outcome", "is only for metric outcome-rate");
        }

        return new ExperimentMetric(kind);
    }

    private static ExperimentGuardrails ValidateGuardrails(ExperimentGuardrails guardrails)
    {
        if (guardrails.MaxP99LatencyMs is { } latency && (!double.IsFinite(latency) || latency <= 0))
        {
            throw new RequestValidationException("guardrails.maxP99LatencyMs", "must be above 0 milliseconds");
        }

        if (guardrails.MaxErrorRate is { } rate && (double.IsNaN(rate) || rate is < 0 or > 1))
        {
            throw new RequestValidationException("guardrails.maxErrorRate", "must be a fraction between 0 and 1 (errors per event)");
        }

        if (guardrails.MaxDriftPsi is { } psi && (!double.IsFinite(psi) || psi <= 0))
        {
            throw new RequestValidationException("guardrails.maxDriftPsi", "must be above 0 (0.2 is a common alarm level)");
        }

        return guardrails;
    }

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "Experiment tick stopped: lease {Lease} moved on from epoch {Epoch} to another replica")]
    private partial void LogFenced(string lease, long epoch);

    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "Experiment {ExperimentId} '{Name}': arms {Arms} over '{Selector}' by {Unit}, created by {CreatedBy}")]
    private partial void LogCreated(string experimentId, string name, string arms, string selector, string unit, string createdBy);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Experiment {ExperimentId}: {Placed} device(s) placed, {Superseded} superseded")]
    private partial void LogPlaced(string experimentId, int placed, int superseded);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: {Reason}")]
    private partial void LogGuardrail(string experimentId, string reason);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "Experiment {ExperimentId} stopped, {Restored} device(s) restored to their previous model ({Reason})")]
    private partial void LogStopped(string experimentId, int restored, string reason);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Experiment {ExperimentId}: arm {Arm} ({Model}) promoted into rollout {RolloutId} by {Actor}")]
    private partial void LogPromoted(string experimentId, string arm, string model, string rolloutId, string actor);
}
