using System.Collections.Concurrent;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Tests.Fakes;

/// <summary>Rollouts in memory, replaced whole on save as SqliteStore does.</summary>
internal sealed class InMemoryRolloutStore : IRolloutStore
{
    private readonly ConcurrentDictionary<string, RolloutInfo> _rollouts = new(StringComparer.Ordinal);

    public Task SaveRolloutAsync(RolloutInfo rollout, CancellationToken cancellationToken)
    {
        _rollouts[rollout.Id] = rollout;
        return Task.CompletedTask;
    }

    public Task<RolloutInfo?> GetRolloutAsync(string id, CancellationToken cancellationToken) =>
        Task.FromResult(_rollouts.GetValueOrDefault(id));

    public Task<IReadOnlyList<RolloutInfo>> ListRolloutsAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<RolloutInfo>>([.. _rollouts.Values.OrderBy(r => r.CreatedAt).ThenBy(r => r.Id, StringComparer.Ordinal)]);
}
