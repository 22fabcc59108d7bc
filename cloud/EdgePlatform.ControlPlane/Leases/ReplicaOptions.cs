using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.ControlPlane.Leases;

/// <summary>This control-plane replica among others sharing one database (section <c>Replica</c>).</summary>
public sealed class ReplicaOptions
{
    public const string Section = "Replica";

    /// <summary>The name this replica holds leases under; unset, the machine name and process id, unique per running process.</summary>
    [MaxLength(200)]
    public string? Id { get; set; }

    /// <summary>
    /// How long a lease runs without renewal (default 10 s). The holder renews every third of it,
    /// so another replica takes the work over within about this long after the holder dies.
    /// </summary>
    [Range(1, 3600)]
    public int LeaseSeconds { get; set; } = 10;

    public string ResolvedId => string.IsNullOrWhiteSpace(Id) ? $"{Environment.MachineName}-{Environment.ProcessId}" : Id.Trim();
}

/// <summary>The work that runs on one replica at a time, each under the lease of this name.</summary>
public static class LeaseNames
{
    public const string Rollouts = "rollouts";
    public const string Experiments = "experiments";
    public const string TelemetryRetention = "telemetry-retention";
    public const string SweepScheduler = "sweep-scheduler";
    public const string TrustMetadata = "trust-metadata";

    /// <summary>Fleet-wide gauges: observed on one replica, so a scrape of every replica does not count them twice.</summary>
    public const string FleetMetrics = "fleet-metrics";
}
