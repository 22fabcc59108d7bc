using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.ControlPlane.Training;

/// <summary>The sweep queue's timing (configuration section <c>Sweeps</c>).</summary>
public sealed class SweepOptions
{
    public const string Section = "Sweeps";

    /// <summary>How long a lease lasts without a heartbeat; a worker that dies loses its trial after this.</summary>
    [Range(2, 3600)]
    public double LeaseSeconds { get; set; } = 15;

    /// <summary>How often workers heartbeat a running trial; a stop reaches them within about this long.</summary>
    [Range(0.1, 60)]
    public double HeartbeatSeconds { get; set; } = 1;

    /// <summary>A worker seen (asking for work or heartbeating) within this long counts as live.</summary>
    [Range(1, 3600)]
    public double WorkerLivenessSeconds { get; set; } = 15;

    /// <summary>How often the scheduler records results, proposes trials and requeues expired leases.</summary>
    [Range(10, 60_000)]
    public int SchedulerIntervalMilliseconds { get; set; } = 250;

    /// <summary>The most of a trial's log kept (its end, where errors are).</summary>
    [Range(1024, 10_000_000)]
    public int MaxLogChars { get; set; } = 64 * 1024;
}
