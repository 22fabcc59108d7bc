using System.Diagnostics;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Core.Reconciliation;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Core.Telemetry;

/// <summary>
/// Every interval (the device's heartbeat), turns the scoring counters and process health into
/// reports (one health report, a perf and a quality report per model version and arm that saw
/// events), each with the next sequence number, and spools them on disk; a second loop drains the
/// spool oldest first, rate-limited, whenever the cloud link is up. A report leaves the spool
/// only after the broker acknowledged it. A report's sequence number is its spool entry's id,
/// allocated and written in one step, so a restart never reuses or skips one.
/// <para>
/// Counters of the interval in progress live in memory: a kill -9 loses at most the events
/// since the last report (one interval), never a report that was spooled.
/// </para>
/// </summary>
public sealed partial class TelemetryReporter(
    IntervalReports reports,
    IModelRuntime runtime,
    ICloudLink link,
    Reconciler reconciler,
    TelemetryOutbox outbox,
    IOptions<TelemetryOptions> options,
    Identity.DeviceIdentityProvider identity,
    Identity.AttestationClient attestation,
    TimeProvider timeProvider,
    ILogger<TelemetryReporter> logger) : BackgroundService
{
    private readonly SemaphoreSlim _drainSignal = new(0, 1);
    private TimeSpan _lastCpu;
    private long _lastTimestamp;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var device = await identity.GetAsync(stoppingToken).ConfigureAwait(false);
        link.Connected += OnConnectedAsync;
        try
        {
            await Task.WhenAll(ReportAsync(stoppingToken), DrainAsync(device.DeviceId, stoppingToken)).ConfigureAwait(false);
        }
        finally
        {
            link.Connected -= OnConnectedAsync;
        }
    }

    public override void Dispose()
    {
        _drainSignal.Dispose();
        base.Dispose();
    }

    private async Task ReportAsync(CancellationToken stoppingToken)
    {
        using var process = Process.GetCurrentProcess();
        _lastCpu = process.TotalProcessorTime;
        _lastTimestamp = timeProvider.GetTimestamp();
        while (!stoppingToken.IsCancellationRequested)
        {
            var heartbeat = reconciler.Telemetry?.IntervalSeconds ?? options.Value.IntervalSeconds;
            await Task.Delay(TimeSpan.FromSeconds(heartbeat), timeProvider, stoppingToken).ConfigureAwait(false);
            Report(process, heartbeat);
            SignalDrain();
        }
    }

    private async Task DrainAsync(string deviceId, CancellationToken stoppingToken)
    {
        var pace = TimeSpan.FromSeconds(1 / options.Value.DrainBatchesPerSecond);
        while (!stoppingToken.IsCancellationRequested)
        {
            await _drainSignal.WaitAsync(stoppingToken).ConfigureAwait(false);
            if (outbox.Depth > options.Value.MaxBatchReports && link.IsConnected)
            {
                LogDraining(outbox.Depth, options.Value.DrainBatchesPerSecond, options.Value.MaxBatchReports);
            }

            while (outbox.Depth > 0 && link.IsConnected)
            {
                if (await outbox.SendNextBatchAsync(link, deviceId, options.Value.MaxBatchReports, stoppingToken).ConfigureAwait(false) == 0)
                {
                    // Refused or cut off: try again later (a reconnect also wakes this loop).
                    await Task.Delay(TimeSpan.FromSeconds(options.Value.RetrySeconds), timeProvider, stoppingToken).ConfigureAwait(false);
                    continue;
                }

                if (outbox.Depth > 0)
                {
                    await Task.Delay(pace, timeProvider, stoppingToken).ConfigureAwait(false);
                }
            }
        }
    }

    private Task OnConnectedAsync(CancellationToken cancellationToken)
    {
        SignalDrain();
        return Task.CompletedTask;
    }

    private void SignalDrain()
    {
        if (_drainSignal.CurrentCount == 0)
        {
            try
            {
                _drainSignal.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already signalled.
            }
        }
    }

    private void Report(Process process, int heartbeatSeconds)
    {
        process.Refresh();
        var cpu = process.TotalProcessorTime;
        var now = timeProvider.GetTimestamp();
        var wall = timeProvider.GetElapsedTime(_lastTimestamp, now);
        var cpuPercent = wall > TimeSpan.Zero ? (cpu - _lastCpu) / wall / Environment.ProcessorCount * 100 : 0;
        _lastCpu = cpu;
        _lastTimestamp = now;
        reports.Spool(new DeviceSample(
            timeProvider.GetUtcNow(), wall, cpuPercent, process.WorkingSet64, runtime.Active?.Reference, attestation.State, heartbeatSeconds));
    }

    [LoggerMessage(EventId = 1306, Level = LogLevel.Information, Message = "Draining {Count} spooled telemetry report(s) at {Rate} batch(es)/s of up to {BatchSize}")]
    private partial void LogDraining(long count, double rate, int batchSize);
}
