using EdgePlatform.ControlPlane.Leases;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Rollouts;

/// <summary>Ticks the rollout engine on the injected clock until the host stops, on the replica holding the rollouts lease.</summary>
public sealed partial class RolloutWorker(
    RolloutService rollouts,
    ReplicaLeases leases,
    IOptions<RolloutOptions> options,
    TimeProvider timeProvider,
    ILogger<RolloutWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.TickSeconds), timeProvider);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                if (await leases.HoldAsync(LeaseNames.Rollouts, stoppingToken).ConfigureAwait(false) is { } fence)
                {
                    await rollouts.TickAsync(fence, stoppingToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A failed tick (the store or broker briefly away) is retried at the next one.
                LogTickFailed(ex);
            }
        }
    }

    [LoggerMessage(EventId = 410, Level = LogLevel.Error, Message = "Rollout tick failed; retrying at the next tick")]
    private partial void LogTickFailed(Exception exception);
}
