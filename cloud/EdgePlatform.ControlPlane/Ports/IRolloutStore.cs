using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Ports;

/// <summary>Rollouts with their per-device progress, each stored as one document.</summary>
public interface IRolloutStore
{
    /// <summary>Inserts the rollout or replaces the stored one with the same id.</summary>
    Task SaveRolloutAsync(RolloutInfo rollout, CancellationToken cancellationToken);

    Task<RolloutInfo?> GetRolloutAsync(string id, CancellationToken cancellationToken);

    /// <summary>Every rollout, oldest first.</summary>
    Task<IReadOnlyList<RolloutInfo>> ListRolloutsAsync(CancellationToken cancellationToken);
}
