using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.Agent.Core.Telemetry;

public sealed class TelemetryOptions
{
    public const string Section = "Telemetry";

    /// <summary>Seconds between reports (the heartbeat) until a desired state sets its own interval. Default 10.</summary>
    [Range(1, 3600)]
    public int IntervalSeconds { get; set; } = 10;

    /// <summary>
    /// Disk the store-and-forward spool may use, in bytes; beyond it reports are shed by
    /// <see cref="ShedPolicy"/> and counted. Default 64 MiB: an interval of one scoring model
    /// version spools about 2.7 KB (health 0.65 KB, perf 0.8 KB, quality 1.2 KB with five
    /// features), so about 24,000 intervals, 2.8 days at the default 10 s heartbeat.
    /// </summary>
    [Range(DiskSpool.MinimumBytes, long.MaxValue)]
    public long SpoolMaxBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>Which reports go when the spool is full. Default <see cref="Telemetry.ShedPolicy.DropOldest"/>.</summary>
    [EnumDataType(typeof(ShedPolicy))]
    public ShedPolicy ShedPolicy { get; set; } = ShedPolicy.DropOldest;

    /// <summary>Reports per published batch. Default 100.</summary>
    [Range(1, 1000)]
    public int MaxBatchReports { get; set; } = 100;

    /// <summary>
    /// Batches per second while draining a backlog, so a device back from days offline does not
    /// flood its uplink or the broker. Default 5 (500 reports/s at the default batch size).
    /// </summary>
    [Range(0.1, 1000)]
    public double DrainBatchesPerSecond { get; set; } = 5;

    /// <summary>Seconds to wait before retrying a batch the broker did not acknowledge. Default 5.</summary>
    [Range(1, 3600)]
    public int RetrySeconds { get; set; } = 5;

    /// <summary>
    /// Share of scored events whose features feed the quality statistics (mean, variance, min, max,
    /// drift bins), taken evenly: 0.1 observes every tenth event of each version and arm. Counts,
    /// latencies and scores always cover every event; the quality record says exactly how many
    /// values were observed. Default 0.1; 1 observes every event.
    /// </summary>
    [Range(0.0001, 1.0)]
    public double FeatureSampleRate { get; set; } = 0.1;
}
