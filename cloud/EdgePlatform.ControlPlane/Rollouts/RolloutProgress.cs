using System.Globalization;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Rollouts;

/// <summary>
/// One tick's work on one rollout: which devices it selects and in which stage, which it owns
/// (highest priority), what they report, and what the gates say. Pure: it publishes nothing.
/// </summary>
internal sealed class RolloutProgress
{
    private readonly Dictionary<string, DeviceRecord> _fleet;
    private readonly IReadOnlyDictionary<string, string> _owners;
    private readonly Func<DeviceRecord, bool> _selects;
    private readonly List<RolloutDevice> _entries;
    private readonly Dictionary<string, int> _index;

    public RolloutProgress(
        RolloutInfo rollout,
        IReadOnlyList<DeviceRecord> fleet,
        IReadOnlyDictionary<string, string> owners,
        Func<DeviceRecord, bool> selects,
        DateTimeOffset now)
    {
        Rollout = rollout;
        Now = now;
        _fleet = fleet.ToDictionary(d => d.Id, StringComparer.Ordinal);
        _owners = owners;
        _selects = selects;
        _entries = [.. rollout.Devices];
        _index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < _entries.Count; i++)
        {
            _index[_entries[i].DeviceId] = i;
        }
    }

    public RolloutInfo Rollout { get; }

    public DateTimeOffset Now { get; }

    public bool Changed { get; private set; }

    public bool BakeEnded => Now >= Rollout.StageStartedAt.AddSeconds(Rollout.Stages[Rollout.CurrentStage].BakeSeconds);

    /// <summary>
    /// No online device of an open stage is still installing: the gates then judge real results.
    /// An offline device does not hold the rollout; it converges when it returns, and an online
    /// one that stays silent fails at the device timeout.
    /// </summary>
    public bool Settled => !_entries.Any(e =>
        e.State == RolloutDeviceStates.Deploying
        && _fleet.TryGetValue(e.DeviceId, out var device)
        && device.Status == DeviceStatuses.Online);

    public void Set(RolloutDevice entry)
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

        Changed = true;
    }

    /// <summary>
    /// Places devices the rollout selects for the first time by their fixed position, so a device
    /// that joins mid-rollout lands in the stage it belongs to; then moves devices between pending
    /// and superseded as rollouts of higher priority come and go.
    /// </summary>
    public void Assign()
    {
        var selected = _fleet.Values
            .Where(_selects)
            .Select(d => (Device: d, Position: RolloutService.Position(Rollout.Id, d.Id)))
            .OrderBy(p => p.Position)
            .ToList();
        for (var rank = 0; rank < selected.Count; rank++)
        {
            var (device, position) = selected[rank];
            if (_index.ContainsKey(device.Id) || StageOf(position, rank) is not { } stage)
            {
                continue;
            }

            Set(new RolloutDevice(device.Id, stage, RolloutDeviceStates.Pending, null, null, Now));
        }

        foreach (var entry in _entries.ToList())
        {
            var owned = _owners.TryGetValue(entry.DeviceId, out var owner) && owner == Rollout.Id;
            if (!owned && entry.State is RolloutDeviceStates.Pending or RolloutDeviceStates.Deploying or RolloutDeviceStates.Active)
            {
                var reason = owner is null ? "no longer selected" : $"rollout {owner} has priority";
                Set(entry with { State = RolloutDeviceStates.Superseded, Reason = reason, Since = Now });
            }
            else if (owned && entry.State == RolloutDeviceStates.Superseded)
            {
                Set(entry with { State = RolloutDeviceStates.Pending, Reason = null, Since = Now });
            }
        }
    }

    /// <summary>Pending devices whose stage is open.</summary>
    public IEnumerable<(RolloutDevice Entry, DeviceRecord Device)> ReadyToPublish() =>
        _entries
            .Where(e => e.State == RolloutDeviceStates.Pending && e.Stage <= Rollout.CurrentStage && _fleet.ContainsKey(e.DeviceId))
            .Select(e => (e, _fleet[e.DeviceId]))
            .ToList();

    /// <summary>Reads what devices report: the new version active, an error for it, or silence past the timeout.</summary>
    public void ReadDeviceStates()
    {
        var model = Rollout.Model;
        foreach (var entry in _entries.ToList())
        {
            if (entry.State is not (RolloutDeviceStates.Deploying or RolloutDeviceStates.Active) || !_fleet.TryGetValue(entry.DeviceId, out var device))
            {
                continue;
            }

            var reported = device.Reported;
            var runsIt = reported?.Slots.Any(s => s.Slot == ModelSlots.Primary && s.ManifestDigest == model.ManifestDigest && s.State == ModelSlotStates.Active) == true;
            var answered = reported is not null && reported.DesiredVersion >= entry.DesiredVersion;
            if (runsIt && entry.State == RolloutDeviceStates.Deploying)
            {
                Set(entry with { State = RolloutDeviceStates.Active, Reason = null, Since = Now });
            }
            else if (!runsIt && answered && reported!.LastError is { } error)
            {
                // Refused, failed to install, or reverted by the device's own health check.
                Set(entry with { State = RolloutDeviceStates.Failed, Reason = error, Since = Now });
            }
            else if (entry.State == RolloutDeviceStates.Deploying && device.Status == DeviceStatuses.Online
                && Now - entry.Since > TimeSpan.FromSeconds(Rollout.DeviceTimeoutSeconds))
            {
                // An offline device is not late: it converges on the retained desired state when it returns.
                Set(entry with
                {
                    State = RolloutDeviceStates.Failed,
                    Reason = string.Create(CultureInfo.InvariantCulture, $"online but did not report the version active within {Rollout.DeviceTimeoutSeconds}s"),
                    Since = Now,
                });
            }
        }
    }

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

    /// <summary>
    /// Gates read from each device's latest telemetry at the end of a bake. Returns the failed
    /// gate, or null; <paramref name="waiting"/> says why the stage holds when too few events were scored.
    /// </summary>
    public string? TelemetryGates(IReadOnlyList<DeviceTelemetrySummary> summaries, out string? waiting)
    {
        waiting = null;
        var gates = Rollout.Gates;
        var ours = new HashSet<string>(
            _entries.Where(e => e.State is RolloutDeviceStates.Active or RolloutDeviceStates.Deploying).Select(e => e.DeviceId),
            StringComparer.Ordinal);
        var others = new HashSet<string>(_entries.Select(e => e.DeviceId), StringComparer.Ordinal);
        var onNew = summaries.Where(s => ours.Contains(s.DeviceId) && IsNewVersion(s.Latest)).ToList();
        var onPrevious = summaries.Where(s => others.Contains(s.DeviceId) && !ours.Contains(s.DeviceId) && s.Latest.ModelDigest is not null && !IsNewVersion(s.Latest)).ToList();

        var scored = onNew.Sum(s => s.Latest.EventsScored);
        var errors = onNew.Sum(s => s.Latest.Errors);
        if (gates.MinEventsScored is { } minEvents && scored < minEvents)
        {
            waiting = string.Create(CultureInfo.InvariantCulture, $"stage {Rollout.CurrentStage + 1} holds: {scored} of {minEvents} events scored on the new version");
            return null;
        }

        if (gates.MaxErrorRate is { } maxRate && scored + errors > 0)
        {
            var rate = (double)errors / (scored + errors);
            if (rate > maxRate)
            {
                return string.Create(CultureInfo.InvariantCulture, $"error rate {rate:0.####} ({errors} errors) above {maxRate}");
            }
        }

        if (gates.MaxP99Regression is { } maxFactor && onNew.Count > 0 && onPrevious.Count > 0)
        {
            var baseline = onPrevious.Average(s => s.Latest.LatencyP99Ms);
            var current = onNew.Average(s => s.Latest.LatencyP99Ms);
            if (baseline > 0 && current / baseline > maxFactor)
            {
                return string.Create(CultureInfo.InvariantCulture, $"p99 latency {current:0.##} ms is {current / baseline:0.##}x the previous version's {baseline:0.##} ms (allowed {maxFactor}x)");
            }
        }

        return null;
    }

    /// <summary>Opens the next stage, or completes the rollout after the last one.</summary>
    public RolloutInfo Advance()
    {
        Changed = true;
        var current = Result();
        return current.CurrentStage + 1 >= Rollout.Stages.Count
            ? current with { State = RolloutStates.Completed, Reason = null, UpdatedAt = Now }
            : current with { CurrentStage = current.CurrentStage + 1, StageStartedAt = Now, Reason = null, UpdatedAt = Now };
    }

    public RolloutInfo Result() =>
        Changed ? Rollout with { Devices = [.. _entries], UpdatedAt = Now } : Rollout;

    private bool IsNewVersion(TelemetryRecord record) =>
        record.ModelDigest == Rollout.Model.ManifestDigest
        || (record.ModelName == Rollout.Model.Name && record.ModelVersion == Rollout.Model.Version);

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
