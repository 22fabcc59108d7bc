using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Ports;

/// <summary>
/// Rollouts and their devices. A rollout's definition and progress are one small record; each
/// device's part is its own, so a tick writes only the devices that moved.
/// </summary>
public interface IRolloutStore
{
    /// <summary>
    /// In one transaction, inserts or replaces the rollout's definition and progress (its counts
    /// are not stored but computed on reads) and inserts or replaces <paramref name="devices"/>;
    /// device entries not given stay as stored. Under a <paramref name="fence"/> the save lands only
    /// while that lease still has its epoch; false, and nothing written, once it has moved on.
    /// </summary>
    Task<bool> SaveRolloutAsync(RolloutInfo rollout, IReadOnlyCollection<RolloutDevice> devices, LeaseFence? fence, CancellationToken cancellationToken);

    /// <summary>The rollout with its device counts, or null.</summary>
    Task<RolloutInfo?> GetRolloutAsync(string id, CancellationToken cancellationToken);

    /// <summary>
    /// Rollouts in one of <paramref name="states"/> (every one when null), oldest first, with
    /// their device counts when <paramref name="withCounts"/> (which costs a pass over their
    /// device entries).
    /// </summary>
    Task<IReadOnlyList<RolloutInfo>> ListRolloutsAsync(IReadOnlyCollection<string>? states, bool withCounts, CancellationToken cancellationToken);

    /// <summary>Every device entry of the rollout, by device id.</summary>
    Task<IReadOnlyList<RolloutDevice>> ListRolloutDevicesAsync(string rolloutId, CancellationToken cancellationToken);

    /// <summary>
    /// At most <paramref name="limit"/> device entries of the rollout with ids after
    /// <paramref name="after"/> (from the first when null), by device id, only those in
    /// <paramref name="state"/> when it is given.
    /// </summary>
    Task<IReadOnlyList<RolloutDevice>> PageRolloutDevicesAsync(string rolloutId, string? state, string? after, int limit, CancellationToken cancellationToken);
}
