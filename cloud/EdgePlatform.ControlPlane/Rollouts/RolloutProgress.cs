using System.Globalization;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Devices;

namespace EdgePlatform.ControlPlane.Rollouts;

/// <summary>
/// One tick's work on one rollout: which devices it selects and in which stage, which it owns
/// (highest priority), what they report, how many the rate lets through, and what the gates say.
/// Pure: it publishes nothing, and it remembers which device entries changed, so only those are
/// written back.
/// </summary>
internal sealed class RolloutProgress
{
    private static readonly TimeSpan RateWindow = TimeSpan.FromMinutes(1);

    private readonly IReadOnlyDictionary<string, DeviceRecord> _fleet;
    private readonly IReadOnlyDictionary<string, DeviceClaim> _owners;
    private readonly Func<DeviceRecord, bool> _selects;
    private readonly List<RolloutDevice> _entries;
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);
    private readonly HashSet<string> _changed = new(StringComparer.Ordinal);

    public RolloutProgress(
        RolloutInfo rollout,
        IReadOnlyList<RolloutDevice> entries,
        IReadOnlyDictionary<string, DeviceRecord> fleet,
        IReadOnlyDictionary<string, DeviceClaim> owners,
        Func<DeviceRecord, bool> selects,
        DateTimeOffset now)
    {
        Rollout = rollout;
        Now = now;
        _fleet = fleet;
        _owners = owners;
        _selects = selects;
        _entries = [.. entries];
        for (var i = 0; i < _entries.Count; i++)
        {
            _index[_entries[i].DeviceId] = i;
        }
    }

    /// <summary>The rollout as this tick has left it so far.</summary>
    public RolloutInfo Rollout { get; private set; }

    public DateTimeOffset Now { get; }

    /// <summary>Whether the rollout or any device entry changed and needs writing.</summary>
    public bool Changed { get; private set; }

    public IReadOnlyList<RolloutDevice> Entries => _entries;

    /// <summary>
    /// The device entries this tick changed, to be written with the rollout, in device id order:
    /// the order the store keeps them in, so a large write touches each page once.
    /// </summary>
    public IReadOnlyCollection<RolloutDevice> ChangedEntries => [.. _changed.Order(StringComparer.Ordinal).Select(id => _entries[_index[id]])];

    public bool BakeEnded => Now >= Rollout.StageStartedAt.AddSeconds(Rollout.Stages[Rollout.CurrentStage].BakeSeconds);

    /// <summary>
    /// Every device of an open stage was sent the version (the rate may hold some back), and no
    /// online one is still on its way to it: the gates then judge real results. An offline device
    /// does not hold the rollout; it converges when it returns, and an online one that stays
    /// silent fails at the device timeout.
    /// </summary>
    public bool Settled => !_entries.Any(e =>
        _fleet.TryGetValue(e.DeviceId, out var device)
        && ((e.State == RolloutDeviceStates.Pending && e.Stage <= Rollout.CurrentStage)
            || (RolloutDeviceStates.IsInProgress(e.State) && device.Status == DeviceStatuses.Online)));

    /// <summary>Devices sent the new version that have not failed or left: whose telemetry the gates read.</summary>
    public IReadOnlyCollection<string> DevicesOnNewVersion =>
        [.. _entries.Where(e => e.State == RolloutDeviceStates.Active || RolloutDeviceStates.IsInProgress(e.State)).Select(e => e.DeviceId)];

    /// <summary>Replaces the rollout's own fields (state, stage, reason); <see cref="Result"/> stamps the update time.</summary>
    public void Update(RolloutInfo rollout)
    {
        Rollout = rollout;
        Changed = true;
    }

    /// <summary>
    /// Places devices the rollout selects for the first time by their fixed position, so a device
    /// that joins mid-rollout lands in the stage it belongs to; then moves devices between pending
    /// and superseded as rollouts of higher priority come and go.
    /// </summary>
    public void Assign()
    {
        var unplaced = _fleet.Values.Where(d => !_index.ContainsKey(d.Id) && _selects(d)).ToList();
        if (unplaced.Count > 0)
        {
            // A count stage takes devices by rank among all selected; percent stages need only the new devices' positions.
            var ranked = Rollout.Stages.Any(s => s.Count is not null)
                ? _fleet.Values.Where(_selects).ToList()
                : unplaced;
            var positions = ranked
                .Select(d => (Device: d, Position: RolloutService.Position(Rollout.Id, d.Id)))
                .OrderBy(p => p.Position)
                .ToList();
            for (var rank = 0; rank < positions.Count; rank++)
            {
                var (device, position) = positions[rank];
                if (_index.ContainsKey(device.Id) || StageOf(position, rank) is not { } stage)
                {
                    continue;
                }

                var reason = string.Create(CultureInfo.InvariantCulture, $"placed in stage {stage + 1}");
                Set(new RolloutDevice(device.Id, stage, RolloutDeviceStates.Pending, null, reason, Now, History: [new(RolloutDeviceStates.Pending, reason, Now)]));
            }
        }

        foreach (var entry in _entries.ToList())
        {
            var owned = _owners.TryGetValue(entry.DeviceId, out var owner) && owner.Owner == Rollout.Id;
            if (!owned && (entry.State is RolloutDeviceStates.Pending or RolloutDeviceStates.Active || RolloutDeviceStates.IsInProgress(entry.State)))
            {
                Move(entry, RolloutDeviceStates.Superseded, owner is null ? "no longer selected" : owner.Describe());
            }
            else if (owned && entry.State == RolloutDeviceStates.Superseded)
            {
                Move(entry, RolloutDeviceStates.Pending, "selected again");
            }
        }
    }

    /// <summary>
    /// Pending devices whose stage is open, earlier stages first and then by position, at most
    /// as many as the rate allows this minute.
    /// </summary>
    public IReadOnlyList<(RolloutDevice Entry, DeviceRecord Device)> ReadyToPublish()
    {
        var ready = _entries
            .Where(e => e.State == RolloutDeviceStates.Pending && e.Stage <= Rollout.CurrentStage && _fleet.ContainsKey(e.DeviceId))
            .ToList();
        if (ready.Count == 0)
        {
            return [];
        }

        return [.. ready
            .OrderBy(e => e.Stage)
            .ThenBy(e => RolloutService.Position(Rollout.Id, e.DeviceId))
            .Take(RateAllowance())
            .Select(e => (e, _fleet[e.DeviceId]))];
    }

    /// <summary>The device's record as this tick read it; null when it is no longer enrolled.</summary>
    public DeviceRecord? Device(string deviceId) => _fleet.GetValueOrDefault(deviceId);

    /// <summary>The device's desired state now names the new version.</summary>
    public void Sent(RolloutDevice entry, long desiredVersion, ModelReference? previous)
    {
        Move(
            entry,
            RolloutDeviceStates.Deploying,
            string.Create(CultureInfo.InvariantCulture, $"desired version {desiredVersion}"),
            moved => moved with { Previous = previous, DesiredVersion = desiredVersion, SentAt = Now });
        if (Rollout.RateProgress is { } rate)
        {
            Rollout = Rollout with { RateProgress = rate with { SentInWindow = rate.SentInWindow + 1, Notified = rate.Notified + 1 } };
        }
    }

    /// <summary>
    /// Reads what devices report: the step the incoming slot is at, the new version active in the
    /// primary slot, an error for it, or silence past the device timeout.
    /// </summary>
    public void ReadDeviceStates()
    {
        var model = Rollout.Model;
        foreach (var entry in _entries.ToList())
        {
            var inProgress = RolloutDeviceStates.IsInProgress(entry.State);
            if ((!inProgress && entry.State != RolloutDeviceStates.Active) || !_fleet.TryGetValue(entry.DeviceId, out var device))
            {
                continue;
            }

            var reported = device.Reported;
            var answered = reported is not null && reported.DesiredVersion >= entry.DesiredVersion;
            var runsIt = reported?.Slots.Any(s => s.Slot == ModelSlots.Primary && s.ManifestDigest == model.ManifestDigest && s.State == ModelSlotStates.Active) == true;
            var incoming = answered ? reported!.Slots.FirstOrDefault(s => s.Slot == ModelSlots.Incoming) : null;
            if (runsIt)
            {
                if (entry.State != RolloutDeviceStates.Active)
                {
                    Move(entry, RolloutDeviceStates.Active, "reported active");
                    Succeeded();
                }

                continue;
            }

            if (incoming is not null && incoming.ManifestDigest == model.ManifestDigest)
            {
                if (incoming.State == ModelSlotStates.Failed)
                {
                    // Refused, failed to install, or reverted by the device's own health check.
                    Move(entry, RolloutDeviceStates.Failed, reported!.LastError ?? "reported failed");
                    continue;
                }

                if (StepOf(incoming.State) is { } step && step != entry.State)
                {
                    Move(entry, step, $"reported {incoming.State}");
                    continue;
                }
            }
            else if (incoming is null && answered && reported!.LastError is { } error)
            {
                // An agent that reports no incoming slot says a version failed by its error alone.
                Move(entry, RolloutDeviceStates.Failed, error);
                continue;
            }

            if (inProgress && device.Status == DeviceStatuses.Online
                && Now - (entry.SentAt ?? entry.Since) > TimeSpan.FromSeconds(Rollout.DeviceTimeoutSeconds))
            {
                // An offline device is not late: it converges on the retained desired state when it returns.
                Move(
                    entry,
                    RolloutDeviceStates.Failed,
                    string.Create(CultureInfo.InvariantCulture, $"online but did not report the version active within {Rollout.DeviceTimeoutSeconds}s (last step: {entry.State})"));
            }
        }
    }

    /// <summary>Marks an entry rolled back with the reason it already had (a failure), or the rollout's.</summary>
    public void RolledBack(RolloutDevice entry, string reason) =>
        Move(entry, RolloutDeviceStates.RolledBack, entry.State == RolloutDeviceStates.Failed ? entry.Reason ?? reason : reason);

    /// <summary>The abort threshold: failures as a share of devices that finished, once enough have.</summary>
    public string? FailureGate()
    {
        if (Rollout.Gates.MaxFailurePercent is not { } maxPercent)
        {
            return null;
        }

        var finished = _entries.Count(e => e.State is RolloutDeviceStates.Active or RolloutDeviceStates.Failed);
        var failed = _entries.Count(e => e.State == RolloutDeviceStates.Failed);
        if (finished == 0 || finished < (Rollout.Gates.MinDevices ?? 1))
        {
            return null;
        }

        var percent = 100.0 * failed / finished;
        return percent > maxPercent
            ? string.Create(CultureInfo.InvariantCulture, $"{failed} of {finished} devices failed ({percent:0.#}%, allowed {maxPercent}%)")
            : null;
    }

    /// <summary>The window the telemetry gates read: from the stage's start until now.</summary>
    public (DateTimeOffset From, DateTimeOffset To) GateWindow => (Rollout.StageStartedAt, Now);

    /// <summary>As long as the gate window, ending where it starts: the same devices before this stage moved them.</summary>
    public (DateTimeOffset From, DateTimeOffset To) BaselineWindow => (Rollout.StageStartedAt - (Now - Rollout.StageStartedAt), Rollout.StageStartedAt);

    /// <summary>
    /// Gates read at the end of a bake from per-minute telemetry: <paramref name="window"/> covers
    /// the rollout's devices over <see cref="GateWindow"/>, <paramref name="baseline"/> the devices
    /// on the new version over <see cref="BaselineWindow"/>. Returns the failed gate, or null;
    /// <paramref name="waiting"/> says why the stage holds when too few events were scored.
    /// </summary>
    public string? TelemetryGates(IReadOnlyList<TelemetryWindowTotal> window, IReadOnlyList<TelemetryWindowTotal> baseline, out string? waiting)
    {
        waiting = null;
        var gates = Rollout.Gates;
        var ours = DevicesOnNewVersion.ToHashSet(StringComparer.Ordinal);
        var onNew = window.Where(t => ours.Contains(t.DeviceId) && IsNewVersion(t)).ToList();
        var scored = onNew.Sum(t => t.EventsScored);
        var errors = onNew.Sum(t => t.Errors);
        if (gates.MinEventsScored is { } minEvents && scored < minEvents)
        {
            waiting = string.Create(CultureInfo.InvariantCulture, $"stage {Rollout.CurrentStage + 1} holds: {scored} of {minEvents} events scored on the new version since the stage opened");
            return null;
        }

        if (gates.MaxErrorRate is { } maxRate && scored + errors > 0)
        {
            var rate = (double)errors / (scored + errors);
            if (rate > maxRate)
            {
                return string.Create(CultureInfo.InvariantCulture, $"error rate {rate:0.####} ({errors} errors in {scored + errors} events since the stage opened) above {maxRate}");
            }
        }

        if (gates.MaxP99Regression is { } maxFactor && P99Comparison(onNew, window, baseline, ours) is var (current, previous, basis) && previous > 0)
        {
            var factor = current / previous;
            if (factor > maxFactor)
            {
                return string.Create(CultureInfo.InvariantCulture, $"p99 latency {current:0.##} ms is {factor:0.##}x the previous version's {previous:0.##} ms ({basis}; allowed {maxFactor}x)");
            }
        }

        return null;
    }

    /// <summary>
    /// Devices the rollout selects that are still on the previous version (pending, or left to a
    /// rollout of higher priority), each with the model it runs now: the quality gate's comparison.
    /// </summary>
    public IReadOnlyDictionary<string, ModelReference> DevicesOnPreviousVersion =>
        _entries
            .Where(e => e.State is RolloutDeviceStates.Pending or RolloutDeviceStates.Superseded)
            .Select(e => (e.DeviceId, Model: _fleet.GetValueOrDefault(e.DeviceId)?.Desired?.Deployment?.Model))
            .Where(d => d.Model is not null && !(d.Model.Name == Rollout.Model.Name && d.Model.Version == Rollout.Model.Version))
            .ToDictionary(d => d.DeviceId, d => d.Model!, StringComparer.Ordinal);

    /// <summary>
    /// The quality gate over labelled feedback: the new version on <see cref="DevicesOnNewVersion"/>
    /// over <see cref="GateWindow"/> (<paramref name="window"/>) against the previous version on
    /// <see cref="DevicesOnPreviousVersion"/> over the same window; where none of those remain (a
    /// final stage), against the new version's devices on their earlier version over
    /// <see cref="BaselineWindow"/> (<paramref name="baseline"/>).
    /// </summary>
    public QualityJudgement QualityGate(IReadOnlyList<(string DeviceId, QualityRecord Record)> window, IReadOnlyList<(string DeviceId, QualityRecord Record)> baseline)
    {
        var metric = Rollout.Gates.QualityMetric!;
        var ours = DevicesOnNewVersion.ToHashSet(StringComparer.Ordinal);
        var onNew = Rollouts.QualityGate.PerDevice(metric, window, (id, r) => ours.Contains(id) && IsNewVersion(r.ModelName, r.ModelVersion));
        var previousDevices = DevicesOnPreviousVersion;
        List<LabelledTotals> previous;
        string basis;
        if (previousDevices.Count > 0)
        {
            previous = Rollouts.QualityGate.PerDevice(
                metric, window, (id, r) => previousDevices.TryGetValue(id, out var model) && r.ModelName == model.Name && r.ModelVersion == model.Version);
            basis = string.Create(CultureInfo.InvariantCulture, $"the {previousDevices.Count} selected device(s) not yet moved, same window");
        }
        else
        {
            previous = Rollouts.QualityGate.PerDevice(metric, baseline, (id, r) => ours.Contains(id) && !IsNewVersion(r.ModelName, r.ModelVersion));
            basis = "the same devices before the stage, as long a window";
        }

        return Rollouts.QualityGate.Judge(Rollout.Gates, Rollout.CurrentStage, onNew, previous, basis, _entries.Count);
    }

    /// <summary>Opens the next stage, or completes the rollout after the last one.</summary>
    public void Advance() =>
        Update(Rollout.CurrentStage + 1 >= Rollout.Stages.Count
            ? Rollout with { State = RolloutStates.Completed, Reason = null }
            : Rollout with { CurrentStage = Rollout.CurrentStage + 1, StageStartedAt = Now, Reason = null });

    /// <summary>The rollout to write: its update time is now when anything about it changed.</summary>
    public RolloutInfo Result() => Changed ? Rollout with { UpdatedAt = Now } : Rollout;

    private static string? StepOf(string slotState) => slotState switch
    {
        ModelSlotStates.Downloading => RolloutDeviceStates.Downloading,
        ModelSlotStates.Verifying => RolloutDeviceStates.Verifying,
        ModelSlotStates.Staged => RolloutDeviceStates.Staged,
        _ => null,
    };

    private static List<RolloutDeviceTransition> Append(IReadOnlyList<RolloutDeviceTransition>? history, RolloutDeviceTransition step)
    {
        List<RolloutDeviceTransition> all = history is null ? [step] : [.. history, step];
        return all.Count > RolloutDevice.MaxHistory ? [.. all.Skip(all.Count - RolloutDevice.MaxHistory)] : all;
    }

    /// <summary>
    /// The p99 on the new version against the previous version's, as (current, previous, what was
    /// compared), or null when there is nothing to compare. Preferred: the same devices, each on
    /// its previous version over as long a window just before this stage moved it, so hardware
    /// and placement cancel out. When none of them reported then (they joined, or had no model),
    /// the same minutes on the rollout's devices not on the new version.
    /// </summary>
    private (double Current, double Previous, string Basis)? P99Comparison(
        List<TelemetryWindowTotal> onNew, IReadOnlyList<TelemetryWindowTotal> window, IReadOnlyList<TelemetryWindowTotal> baseline, HashSet<string> ours)
    {
        var before = baseline.Where(t => ours.Contains(t.DeviceId) && !IsNewVersion(t) && t.EventsScored > 0).ToList();
        var paired = before.Select(t => t.DeviceId).ToHashSet(StringComparer.Ordinal);
        var after = onNew.Where(t => paired.Contains(t.DeviceId) && t.EventsScored > 0).ToList();
        if (after.Count > 0)
        {
            var devices = after.Select(t => t.DeviceId).ToHashSet(StringComparer.Ordinal);
            return (WeightedP99(after), WeightedP99([.. before.Where(t => devices.Contains(t.DeviceId))]),
                string.Create(CultureInfo.InvariantCulture, $"{devices.Count} device(s) against themselves before the stage"));
        }

        var others = window.Where(t => !ours.Contains(t.DeviceId) && t.ModelName is not null && !IsNewVersion(t) && t.EventsScored > 0).ToList();
        var current = onNew.Where(t => t.EventsScored > 0).ToList();
        return current.Count > 0 && others.Count > 0
            ? (WeightedP99(current), WeightedP99(others),
                string.Create(CultureInfo.InvariantCulture, $"{current.Count} device(s) against {others.Count} not yet moved, same minutes"))
            : null;
    }

    private static double WeightedP99(IReadOnlyList<TelemetryWindowTotal> totals) =>
        totals.Sum(t => t.LatencyP99Ms * t.EventsScored) / totals.Sum(t => t.EventsScored);

    /// <summary>
    /// How many devices the rate lets through now. A new minute starts a new window; at its start
    /// the rate grows by its factor once the trigger count grew by the step since the last increase.
    /// </summary>
    private int RateAllowance()
    {
        if (Rollout.Rate is not { } rate)
        {
            return int.MaxValue;
        }

        var progress = Rollout.RateProgress ?? new RolloutRateProgress(rate.BaseRatePerMinute!.Value, Now, 0, 0, 0, 0);
        if (Now >= progress.WindowStartedAt + RateWindow)
        {
            var windows = (Now - progress.WindowStartedAt).Ticks / RateWindow.Ticks;
            var count = rate.IncreaseAfterNotified is not null ? progress.Notified : progress.Succeeded;
            var step = rate.IncreaseAfterNotified ?? rate.IncreaseAfterSucceeded!.Value;
            progress = count - progress.CountAtLastIncrease >= step
                ? progress with { RatePerMinute = Math.Min(progress.RatePerMinute * rate.IncrementFactor!.Value, rate.MaxRatePerMinute!.Value), CountAtLastIncrease = count }
                : progress;
            progress = progress with { WindowStartedAt = progress.WindowStartedAt + (RateWindow * windows), SentInWindow = 0 };
        }

        if (progress != Rollout.RateProgress)
        {
            Rollout = Rollout with { RateProgress = progress };
            Changed = true;
        }

        return Math.Max(0, (int)Math.Floor(progress.RatePerMinute) - progress.SentInWindow);
    }

    private void Succeeded()
    {
        if (Rollout.RateProgress is { } rate)
        {
            Rollout = Rollout with { RateProgress = rate with { Succeeded = rate.Succeeded + 1 } };
        }
    }

    private void Move(RolloutDevice entry, string state, string? reason, Func<RolloutDevice, RolloutDevice>? also = null)
    {
        var moved = entry with
        {
            State = state,
            Reason = reason,
            Since = Now,
            History = Append(entry.History, new RolloutDeviceTransition(state, reason, Now)),
        };
        Set(also is null ? moved : also(moved));
    }

    private void Set(RolloutDevice entry)
    {
        if (_index.TryGetValue(entry.DeviceId, out var i))
        {
            _entries[i] = entry;
        }
        else
        {
            _index[entry.DeviceId] = _entries.Count;
            _entries.Add(entry);
        }

        _changed.Add(entry.DeviceId);
        Changed = true;
    }

    private bool IsNewVersion(TelemetryWindowTotal total) => IsNewVersion(total.ModelName, total.ModelVersion);

    private bool IsNewVersion(string? name, string? version) => name == Rollout.Model.Name && version == Rollout.Model.Version;

    private int? StageOf(double position, int rank)
    {
        for (var i = 0; i < Rollout.Stages.Count; i++)
        {
            var stage = Rollout.Stages[i];
            if ((stage.Percent is { } percent && position < percent / 100.0) || (stage.Count is { } count && rank < count))
            {
                return i;
            }
        }

        return null;
    }
}
