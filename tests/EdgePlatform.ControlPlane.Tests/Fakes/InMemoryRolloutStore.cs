using System.Collections.Concurrent;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Tests.Fakes;

/// <summary>
/// Rollouts in memory as the rollout store adapters keep them: the rollout record replaced on save, device
/// entries replaced one by one, counts computed on reads.
/// </summary>
internal sealed class InMemoryRolloutStore(InMemoryLeaseStore? leases = null) : IRolloutStore
{
    private readonly ConcurrentDictionary<string, RolloutInfo> _rollouts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, RolloutDevice>> _devices = new(StringComparer.Ordinal);

    /// <summary>Device entries written by each save, in order: what a tick cost the store.</summary>
    public List<int> DevicesWrittenPerSave { get; } = [];

    public Task<bool> SaveRolloutAsync(RolloutInfo rollout, IReadOnlyCollection<RolloutDevice> devices, LeaseFence? fence, CancellationToken cancellationToken)
    {
        if (fence is not null && leases?.Holds(fence) == false)
        {
            return Task.FromResult(false);
        }

        _rollouts[rollout.Id] = rollout with { Counts = null, StageCounts = null };
        var entries = _devices.GetOrAdd(rollout.Id, _ => new ConcurrentDictionary<string, RolloutDevice>(StringComparer.Ordinal));
        foreach (var device in devices)
        {
            entries[device.DeviceId] = device;
        }

        DevicesWrittenPerSave.Add(devices.Count);
        return Task.FromResult(true);
    }

    public Task<RolloutInfo?> GetRolloutAsync(string id, CancellationToken cancellationToken) =>
        Task.FromResult(_rollouts.TryGetValue(id, out var rollout) ? WithCounts(rollout) : null);

    public Task<IReadOnlyList<RolloutInfo>> ListRolloutsAsync(IReadOnlyCollection<string>? states, bool withCounts, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<RolloutInfo>>([.. _rollouts.Values
            .Where(r => states is null || states.Contains(r.State))
            .OrderBy(r => r.CreatedAt)
            .ThenBy(r => r.Id, StringComparer.Ordinal)
            .Select(r => withCounts ? WithCounts(r) : r)]);

    public Task<IReadOnlyList<RolloutDevice>> ListRolloutDevicesAsync(string rolloutId, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<RolloutDevice>>([.. Entries(rolloutId)]);

    public Task<IReadOnlyList<RolloutDevice>> PageRolloutDevicesAsync(string rolloutId, string? state, string? after, int limit, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<RolloutDevice>>([.. Entries(rolloutId)
            .Where(d => (state is null || d.State == state) && (after is null || string.CompareOrdinal(d.DeviceId, after) > 0))
            .Take(limit)]);

    private IEnumerable<RolloutDevice> Entries(string rolloutId) =>
        _devices.TryGetValue(rolloutId, out var entries) ? entries.Values.OrderBy(d => d.DeviceId, StringComparer.Ordinal) : [];

    private RolloutInfo WithCounts(RolloutInfo rollout)
    {
        var entries = Entries(rollout.Id).ToList();
        return rollout with
        {
            Counts = entries.GroupBy(d => d.State).ToDictionary(g => g.Key, g => g.Count()),
            StageCounts = [.. rollout.Stages.Select((_, i) => (IReadOnlyDictionary<string, int>)entries.Where(d => d.Stage == i).GroupBy(d => d.State).ToDictionary(g => g.Key, g => g.Count()))],
        };
    }
}
