using EdgePlatform.Agent.Core.Reconciliation;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Core.Telemetry;

/// <summary>What the reporter measured of the process and the device over one interval.</summary>
/// <remarks><c>Active</c> is the model in the primary slot; <c>AttestationState</c> one of <see cref="AttestationStates"/>.</remarks>
public sealed record DeviceSample(
    DateTimeOffset Timestamp,
    TimeSpan Interval,
    double CpuPercent,
    long MemoryBytes,
    ModelReference? Active,
    string AttestationState,
    int HeartbeatSeconds);

/// <summary>
/// Turns one interval into spooled reports: one health report for the device (the scoring totals,
/// the sample, the disk of the data directory, the agent version), then a perf and a quality
/// report for each model version and arm that saw events, each under the next sequence number.
/// </summary>
public sealed partial class IntervalReports(
    ScoringMetrics metrics,
    TelemetryOutbox outbox,
    IOptions<AgentOptions> agentOptions,
    ILogger<IntervalReports> logger)
{
    /// <summary>Spools the interval's reports; returns how many the spool kept.</summary>
    public int Spool(DeviceSample sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        var scoring = metrics.TakeInterval();
        var models = metrics.TakeModelIntervals(sample.Timestamp, (long)sample.Interval.TotalMilliseconds);
        var (diskFree, diskTotal) = Disk();
        var kept = outbox.Add(new TelemetryRecord(
            0,
            sample.Timestamp,
            sample.Active?.Name,
            sample.Active?.Version,
            sample.Active?.ManifestDigest,
            scoring.Received,
            scoring.Scored,
            scoring.Errors,
            scoring.DeadLettered,
            scoring.LatencyP50Ms,
            scoring.LatencyP99Ms,
            scoring.LatencyMaxMs,
            Math.Round(sample.CpuPercent, 2),
            sample.MemoryBytes,
            scoring.LatencyP95Ms,
            DiskFreeBytes: diskFree,
            DiskTotalBytes: diskTotal,
            AgentVersion: Reconciler.AgentVersion,
            AttestationState: sample.AttestationState,
            HeartbeatSeconds: sample.HeartbeatSeconds,
            EventsDropped: scoring.Dropped,
            FeedbackUnmatched: scoring.FeedbackUnmatched,
            FeedbackMalformed: scoring.FeedbackMalformed)) ? 1 : 0;
        foreach (var (perf, quality) in models)
        {
            kept += outbox.Add(perf) ? 1 : 0;
            kept += outbox.Add(quality) ? 1 : 0;
        }

        return kept;
    }

    /// <summary>Space on the filesystem of the data directory, where models and the spool live; zeros when it cannot be read.</summary>
    private (long Free, long Total) Disk()
    {
        try
        {
            var drive = new DriveInfo(Path.GetFullPath(agentOptions.Value.DataDirectory));
            return (drive.AvailableFreeSpace, drive.TotalSize);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            LogDiskUnreadable(agentOptions.Value.DataDirectory, ex.Message);
            return (0, 0);
        }
    }

    [LoggerMessage(EventId = 1307, Level = LogLevel.Warning, Message = "Disk space of {Directory} cannot be read; health reports zero: {Reason}")]
    private partial void LogDiskUnreadable(string directory, string reason);
}
