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
/// Every interval, turns the scoring counters and process health into one report with the
/// next sequence number, queues it, and sends what is queued as one Arrow batch once the
/// cloud link is up. A report leaves the queue only after the broker acknowledged it.
/// Sequence numbers are persisted before use, so a restart never reuses one.
/// </summary>
public sealed partial class TelemetryReporter(
    ScoringMetrics metrics,
    IModelRuntime runtime,
    ICloudLink link,
    Reconciler reconciler,
    IOptions<TelemetryOptions> options,
    IOptions<AgentOptions> agentOptions,
    Identity.DeviceIdentityProvider identity,
    TimeProvider timeProvider,
    ILogger<TelemetryReporter> logger) : BackgroundService
{
    private const int MaxBatch = 500;
    private const string SequenceFileName = "telemetry.seq";

    private readonly Queue<TelemetryRecord> _pending = new();
    private long _nextSequence;
    private TimeSpan _lastCpu;
    private long _lastTimestamp;

    public long Dropped { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var device = await identity.GetAsync(stoppingToken).ConfigureAwait(false);
        _nextSequence = LoadSequence();
        using var process = Process.GetCurrentProcess();
        _lastCpu = process.TotalProcessorTime;
        _lastTimestamp = timeProvider.GetTimestamp();

        while (!stoppingToken.IsCancellationRequested)
        {
            var interval = TimeSpan.FromSeconds(reconciler.Telemetry?.IntervalSeconds ?? options.Value.IntervalSeconds);
            await Task.Delay(interval, timeProvider, stoppingToken).ConfigureAwait(false);
            Enqueue(await NextRecordAsync(process, stoppingToken).ConfigureAwait(false));
            await FlushAsync(device.DeviceId, stoppingToken).ConfigureAwait(false);
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
            process.WorkingSet64);
    }

    private void Enqueue(TelemetryRecord record)
    {
        _pending.Enqueue(record);
        while (_pending.Count > options.Value.MaxPendingReports)
        {
            _pending.Dequeue();
            Dropped++;
        }
    }

    private async Task FlushAsync(string deviceId, CancellationToken cancellationToken)
    {
        while (_pending.Count > 0 && link.IsConnected)
        {
            var batch = _pending.Take(MaxBatch).ToList();
            try
            {
                await link.PublishTelemetryAsync(TelemetryKinds.Health, TelemetryArrow.Serialize(deviceId, batch), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogSendFailed(_pending.Count, ex.Message);
                return;
            }

            for (var i = 0; i < batch.Count; i++)
            {
                _pending.Dequeue();
            }

            LogSent(batch.Count, batch[^1].Sequence);
        }
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

    [LoggerMessage(EventId = 1300, Level = LogLevel.Debug, Message = "Sent {Count} telemetry report(s) up to sequence {Sequence}")]
    private partial void LogSent(int count, long sequence);

    [LoggerMessage(EventId = 1301, Level = LogLevel.Warning, Message = "Telemetry not sent, {Pending} report(s) kept for later: {Reason}")]
    private partial void LogSendFailed(int pending, string reason);
}
