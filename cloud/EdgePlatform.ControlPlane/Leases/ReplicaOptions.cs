using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;

namespace EdgePlatform.ControlPlane.Leases;

/// <summary>
/// Which control-plane replica this process is, among several that share one database and one
/// external broker (section <c>Replica</c>): leases record it as their holder, and its broker
/// session is named after it (so a replica that restarts with the same id resumes the session and
/// receives again what it had not acknowledged).
/// </summary>
public sealed partial class ReplicaOptions
{
    public const string Section = "Replica";

    /// <summary>Characters that are safe in an MQTT client id, a file name and a log line alike.</summary>
    public const string IdPattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";

    /// <summary>
    /// This replica's id: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.
    /// Give each replica a stable one (a StatefulSet pod name, say): a replica that comes back
    /// under another id leaves what its old broker session held there until the session expires
    /// (<c>Broker:SessionExpiry</c>). Default: the machine name, so a server restarted on its
    /// machine resumes its session and its leases; replicas sharing a machine each need their own.
    /// </summary>
    [Required]
    [RegularExpression(IdPattern, ErrorMessage = "Replica:Id must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")]
    public string Id { get; set; } = DefaultId();

    /// <summary>
    /// How long a lease runs without renewal (default 10 s). The holder renews every third of it,
    /// so another replica takes the work over within about this long after the holder dies.
    /// </summary>
    [Range(1, 3600)]
    public int LeaseSeconds { get; set; } = 10;

    private static string DefaultId()
    {
        var machine = NotAllowed().Replace(Environment.MachineName, "-").Trim('-', '.', '_');
        var id = machine.Length == 0 ? "replica" : machine;
        return id.Length <= 64 ? id : id[..64].TrimEnd('-', '.', '_');
    }

    [GeneratedRegex("[^A-Za-z0-9._-]+")]
    private static partial Regex NotAllowed();
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
