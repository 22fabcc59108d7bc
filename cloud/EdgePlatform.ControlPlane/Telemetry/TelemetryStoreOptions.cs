using System.ComponentModel.DataAnnotations;
using EdgePlatform.Resilience;

namespace EdgePlatform.ControlPlane.Telemetry;

/// <summary>How the control plane takes in telemetry and how long it keeps it.</summary>
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

    /// <summary>
    /// Pauses between tries to store a batch of device telemetry while the store fails (nothing is
    /// acknowledged meanwhile): 1 s doubling to 30 s, with jitter so replicas do not hit a
    /// recovering database together.
    /// </summary>
    [ValidBackoff]
    public RetryBackoffOptions StoreRetry { get; set; } = new() { FirstDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(30) };

    /// <summary>Most rows one query returns. Default 10,000.</summary>
    [Range(1, 1_000_000)]
    public int MaxQueryRows { get; set; } = 10_000;

    /// <summary>
    /// Most broker messages stored in one transaction (and acknowledged after its commit).
    /// Default 500. Under load, messages queue while a transaction runs, and the next one takes
    /// them all up to this bound; a lone message is stored at once.
    /// </summary>
    [Range(1, 10_000)]
    public int IngestBatchMessages { get; set; } = 500;

    /// <summary>
    /// Broker messages received and not yet stored before the device link stops taking more.
    /// Default 5,000. The control plane also asks the broker to hold back more unacknowledged
    /// messages than this (MQTT 5 receive maximum), so the queue pushes back on the broker
    /// instead of growing.
    /// </summary>
    [Range(1, 65_535)]
    public int IngestQueueMessages { get; set; } = 5_000;
}
