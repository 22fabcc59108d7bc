using System.Diagnostics;
using System.Globalization;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Core.Reconciliation;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Core.Telemetry;

/// <summary>
/// Every interval (the device's heartbeat), turns the scoring counters and process health into
/// one report with the next sequence number and spools it on disk; a second loop drains the
/// spool oldest first, rate-limited, whenever the cloud link is up. A report leaves the spool
/// only after the broker acknowledged it. Sequence numbers are persisted before use, so a
/// restart never reuses one.
/// </summary>
public sealed partial class TelemetryReporter(
    ScoringMetrics metrics,
    IModelRuntime runtime,
    ICloudLink link,
    Reconciler reconciler,
    TelemetryOutbox outbox,
    IOptions<TelemetryOptions> options,
    IOptions<AgentOptions> agentOptions,
    Identity.DeviceIdentityProvider identity,
    TimeProvider timeProvider,
    ILogger<TelemetryReporter> logger) : BackgroundService
{
    private const string SequenceFileName = "telemetry.seq";

    private readonly SemaphoreSlim _drainSignal = new(0, 1);
    private long _nextSequence;
    private TimeSpan _lastCpu;
    private long _lastTimestamp;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var device = await identity.GetAsync(stoppingToken).ConfigureAwait(false);
        _nextSequence = LoadSequence();
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
            var interval = TimeSpan.FromSeconds(reconciler.Telemetry?.IntervalSeconds ?? options.Value.IntervalSeconds);
            await Task.Delay(interval, timeProvider, stoppingToken).ConfigureAwait(false);
            outbox.Add(await NextRecordAsync(process, stoppingToken).ConfigureAwait(false));
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

    private async Task<TelemetryRecord> NextRecordAsync(Process process, CancellationToken cancellationToken)
    {
        var scoring = metrics.TakeInterval();
        process.Refresh();
        var cpu = process.TotalProcessorTime;
        var now = timeProvider.GetTimestamp();
        var wall = timeProvider.GetElapsedTime(_lastTimestamp, now);
        var cpuPercent = wall > TimeSpan.Zero ? (cpu - _lastCpu) / wall / Environment.ProcessorCount * 100 : 0;
        _lastCpu = cpu;
        _lastTimestamp = now;

        var sequence = _nextSequence++;
        await SaveSequenceAsync(_nextSequence, cancellationToken).ConfigureAwait(false);
        var active = runtime.Active?.Reference;
        return new TelemetryRecord(
            sequence,
            timeProvider.GetUtcNow(),
            active?.Name,
            active?.Version,
            active?.ManifestDigest,
            scoring.Received,
            scoring.Scored,
            scoring.Errors,
            scoring.DeadLettered,
            scoring.LatencyP50Ms,
            scoring.LatencyP99Ms,
            scoring.LatencyMaxMs,
            Math.Round(cpuPercent, 2),
            process.WorkingSet64,
            scoring.LatencyP95Ms);
    }

    private string SequenceFile => Path.Combine(agentOptions.Value.DataDirectory, SequenceFileName);

    private long LoadSequence() =>
        File.Exists(SequenceFile) && long.TryParse(File.ReadAllText(SequenceFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var next)
            ? next
            : 1;

    private async Task SaveSequenceAsync(long next, CancellationToken cancellationToken)
    {
        var temporary = SequenceFile + ".tmp";
        await File.WriteAllTextAsync(temporary, next.ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);
        File.Move(temporary, SequenceFile, overwrite: true);
    }

    [LoggerMessage(EventId = 1306, Level = LogLevel.Information, Message = "Draining {Count} spooled telemetry report(s) at {Rate} batch(es)/s of up to {BatchSize}")]
    private partial void LogDraining(long count, double rate, int batchSize);
}
