using EdgePlatform.ControlPlane.Leases;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Telemetry;

/// <summary>Keeps raw reports for the retention window and per-minute rollups for longer; prunes on the replica holding the retention lease.</summary>
public sealed partial class TelemetryRetentionWorker(
    ITelemetryStore store,
    ReplicaLeases leases,
    IOptions<TelemetryStoreOptions> options,
    TimeProvider timeProvider,
    ILogger<TelemetryRetentionWorker> logger) : BackgroundService
{
    public async Task<long> PruneOnceAsync(CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        var deleted = await store.PruneTelemetryAsync(
            now.AddHours(-options.Value.RawRetentionHours),
            now.AddDays(-options.Value.RollupRetentionDays),
            cancellationToken).ConfigureAwait(false);
        if (deleted > 0)
        {
            LogPruned(deleted, options.Value.RawRetentionHours);
        }

        return deleted;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(options.Value.PruneIntervalMinutes), timeProvider);
        do
        {
            if (await leases.HoldAsync(LeaseNames.TelemetryRetention, stoppingToken).ConfigureAwait(false) is not null)
            {
                await PruneOnceAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(EventId = 410, Level = LogLevel.Information, Message = "Pruned {Count} raw telemetry report(s) older than {Hours} h; their per-minute rollups stay")]
    private partial void LogPruned(long count, int hours);
}
