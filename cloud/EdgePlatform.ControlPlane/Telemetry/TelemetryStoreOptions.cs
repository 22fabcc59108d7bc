using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.ControlPlane.Telemetry;

/// <summary>How long the control plane keeps telemetry.</summary>
public sealed class TelemetryStoreOptions
{
    public const string Section = "Telemetry";

    /// <summary>Hours raw reports are kept; per-minute rollups outlive them. Default 168 (7 days).</summary>
    [Range(1, 24 * 366)]
    public int RawRetentionHours { get; set; } = 168;

    /// <summary>Days per-minute rollups are kept. Default 90.</summary>
    [Range(1, 3660)]
    public int RollupRetentionDays { get; set; } = 90;

    /// <summary>Minutes between retention passes. Default 10.</summary>
    [Range(1, 1440)]
    public int PruneIntervalMinutes { get; set; } = 10;

    /// <summary>Most rows one query returns. Default 10,000.</summary>
    [Range(1, 1_000_000)]
    public int MaxQueryRows { get; set; } = 10_000;
}
