using System.Collections.Concurrent;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Leases;

/// <summary>
/// The leases this replica holds on work that must run once across replicas. Work asks
/// <see cref="HoldAsync"/> before each run and runs only with a fence, which its writes carry;
/// in the background every lease asked for is renewed (or taken, once its holder stopped renewing)
/// every third of its duration, and released on shutdown so a successor need not wait out the
/// expiry. With one replica, the first ask takes the lease at once, so nothing waits.
/// </summary>
public sealed partial class ReplicaLeases(
    ILeaseStore store,
    IOptions<ReplicaOptions> options,
    TimeProvider timeProvider,
    ILogger<ReplicaLeases> logger) : BackgroundService
{
    // Every lease this replica wants, with the lease it last got (null while another replica holds it).
    private readonly ConcurrentDictionary<string, Lease?> _leases = new(StringComparer.Ordinal);

    public string ReplicaId { get; } = options.Value.Id;

    public TimeSpan Duration { get; } = TimeSpan.FromSeconds(options.Value.LeaseSeconds);

    /// <summary>
    /// The fence to write under while this replica holds <paramref name="name"/>, taking or renewing
    /// the lease first when the last renewal is a third of the duration old; null while another
    /// replica holds it.
    /// </summary>
    public async Task<LeaseFence?> HoldAsync(string name, CancellationToken cancellationToken)
    {
        var lease = _leases.GetOrAdd(name, (Lease?)null);
        if (lease is not null && timeProvider.GetUtcNow() < lease.ExpiresAt - (Duration * 2 / 3))
        {
            return lease.Fence;
        }

        return (await RenewAsync(name, cancellationToken).ConfigureAwait(false))?.Fence;
    }

    /// <summary>Whether this replica holds <paramref name="name"/> as of its last renewal, not yet run out.</summary>
    public bool Holds(string name) => Current(name) is not null;

    /// <summary>The fence of <paramref name="name"/> while this replica holds it, without asking the store.</summary>
    public LeaseFence? Fence(string name) => Current(name)?.Fence;

    /// <summary>Asks for <paramref name="name"/> from the next renewal on, for work that only checks <see cref="Holds"/>.</summary>
    public void Want(string name) => _leases.TryAdd(name, null);

    /// <summary>Takes or renews every lease asked for, once: what the background loop does every third of the duration.</summary>
    public async Task RenewAllAsync(CancellationToken cancellationToken)
    {
        foreach (var name in _leases.Keys)
        {
            try
            {
                await RenewAsync(name, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The store briefly away: the lease runs out unless a later renewal lands, and
                // its work stops here meanwhile (Holds turns false at the expiry).
                LogRenewFailed(name, ex);
            }
        }
    }

    /// <summary>Gives up every lease this replica holds, so another replica takes the work over at once.</summary>
    public async Task ReleaseAllAsync(CancellationToken cancellationToken)
    {
        foreach (var (name, lease) in _leases)
        {
            if (lease is not null && _leases.TryUpdate(name, null, lease))
            {
                await store.ReleaseAsync(lease, cancellationToken).ConfigureAwait(false);
                LogReleased(name, lease.Epoch);
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await ReleaseAllAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Not released, the leases run out on their own within their duration.
            LogReleaseFailed(ex);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Duration / 3, timeProvider);
        do
        {
            await RenewAllAsync(stoppingToken).ConfigureAwait(false);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    private Lease? Current(string name) =>
        _leases.TryGetValue(name, out var lease) && lease is not null && timeProvider.GetUtcNow() < lease.ExpiresAt ? lease : null;

    private async Task<Lease?> RenewAsync(string name, CancellationToken cancellationToken)
    {
        var lease = await store.TryAcquireAsync(name, ReplicaId, Duration, cancellationToken).ConfigureAwait(false);
        _leases.TryGetValue(name, out var previous);
        _leases[name] = lease;
        if (lease is not null && previous?.Epoch != lease.Epoch)
        {
            LogTaken(name, lease.Epoch, ReplicaId);
        }
        else if (lease is null && previous is not null)
        {
            LogLost(name, previous.Epoch);
        }

        return lease;
    }

    [LoggerMessage(EventId = 1100, Level = LogLevel.Information, Message = "Took lease {Name} at epoch {Epoch} as replica {Replica}")]
    private partial void LogTaken(string name, long epoch, string replica);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "Lost lease {Name} (epoch {Epoch}) to another replica; its work stops here")]
    private partial void LogLost(string name, long epoch);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "Could not renew lease {Name}; retrying at the next renewal")]
    private partial void LogRenewFailed(string name, Exception exception);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Information, Message = "Released lease {Name} (epoch {Epoch})")]
    private partial void LogReleased(string name, long epoch);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Warning, Message = "Could not release leases on stopping; they run out on their own")]
    private partial void LogReleaseFailed(Exception exception);
}
