namespace EdgePlatform.ControlPlane.Ports;

/// <summary>
/// A named lease on work that must run on one control-plane replica at a time (rollout ticks,
/// trust metadata re-signing, training scheduling, retention). <see cref="Epoch"/> is the fencing
/// token: it grows every time the lease changes hands, and writes made under the lease carry it,
/// so a holder that stalled past its expiry cannot overwrite its successor's work.
/// </summary>
public sealed record Lease(string Name, string Holder, long Epoch, DateTimeOffset ExpiresAt)
{
    /// <summary>What a write made under this lease carries.</summary>
    public LeaseFence Fence => new(Name, Epoch);
}

/// <summary>
/// The lease a write is made under: a store refuses the write once the lease named
/// <see cref="Name"/> has moved past <see cref="Epoch"/>, so a stalled holder's late write cannot
/// land over its successor's.
/// </summary>
public sealed record LeaseFence(string Name, long Epoch);

/// <summary>Leases kept in the shared database, so replicas agree on who holds what.</summary>
public interface ILeaseStore
{
    /// <summary>
    /// Takes the lease when it is free or expired (a new epoch), or renews it when
    /// <paramref name="holder"/> already holds it (same epoch); null while another holder's lease runs.
    /// </summary>
    Task<Lease?> TryAcquireAsync(string name, string holder, TimeSpan duration, CancellationToken cancellationToken);

    /// <summary>Gives the lease up early, so another replica can take it without waiting for expiry; no-op when the epoch has moved on.</summary>
    Task ReleaseAsync(Lease lease, CancellationToken cancellationToken);

    /// <summary>The lease as stored, expired or not; null when it was never taken.</summary>
    Task<Lease?> GetAsync(string name, CancellationToken cancellationToken);
}
