using EdgePlatform.ControlPlane.Leases;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Experiments;

/// <summary>Ticks running experiments on the injected clock until the host stops, on the replica holding the experiments lease.</summary>
public sealed partial class ExperimentWorker(
    ExperimentService experiments,
    ReplicaLeases leases,
    IOptions<ExperimentOptions> options,
    TimeProvider timeProvider,
    ILogger<ExperimentWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.Value.LookSeconds), timeProvider);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                if (await leases.HoldAsync(LeaseNames.Experiments, stoppingToken).ConfigureAwait(false) is { } fence)
                {
                    await experiments.TickAsync(fence, stoppingToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A failed tick (the store, broker or telemetry briefly away) is retried at the next one.
                LogTickFailed(ex);
            }
        }
    }

    [LoggerMessage(EventId = 1010, Level = LogLevel.Error, Message = "Experiment tick failed; retrying at the next tick")]
    private partial void LogTickFailed(Exception exception);
}
