using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Tests.Fakes;

/// <summary>Leases in memory with the database adapters' rules: a new epoch when the lease changes hands, the same on renewal.</summary>
internal sealed class InMemoryLeaseStore(TimeProvider timeProvider) : ILeaseStore
{
    private readonly Dictionary<string, Lease> _leases = new(StringComparer.Ordinal);

    public Task<Lease?> TryAcquireAsync(string name, string holder, TimeSpan duration, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        lock (_leases)
        {
            _leases.TryGetValue(name, out var current);
            if (current is not null && current.Holder != holder && current.ExpiresAt > now)
            {
                return Task.FromResult<Lease?>(null);
            }

            var epoch = current is null ? 1 : current.Holder == holder ? current.Epoch : current.Epoch + 1;
            var lease = new Lease(name, holder, epoch, now + duration);
            _leases[name] = lease;
            return Task.FromResult<Lease?>(lease);
        }
    }

    public Task ReleaseAsync(Lease lease, CancellationToken cancellationToken)
    {
        lock (_leases)
        {
            if (_leases.TryGetValue(lease.Name, out var current) && current.Epoch == lease.Epoch && current.Holder == lease.Holder)
            {
                _leases[lease.Name] = current with { ExpiresAt = DateTimeOffset.UnixEpoch };
            }
        }

        return Task.CompletedTask;
    }

    public Task<Lease?> GetAsync(string name, CancellationToken cancellationToken)
    {
        lock (_leases)
        {
            return Task.FromResult(_leases.GetValueOrDefault(name));
        }
    }

    /// <summary>Whether a write under <paramref name="fence"/> would land: the lease still has that epoch.</summary>
    public bool Holds(LeaseFence fence)
    {
        lock (_leases)
        {
            return _leases.TryGetValue(fence.Name, out var current) && current.Epoch == fence.Epoch;
        }
    }
}
