using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.Agent.Core.Telemetry;

public sealed class TelemetryOptions
{
    public const string Section = "Telemetry";

    /// <summary>Seconds between reports until a desired state sets its own interval. Default 10.</summary>
    [Range(1, 3600)]
    public int IntervalSeconds { get; set; } = 10;

    /// <summary>Reports kept while the cloud is unreachable; the oldest are dropped beyond it. Default 10,000.</summary>
    [Range(1, 1_000_000)]
    public int MaxPendingReports { get; set; } = 10_000;
}
