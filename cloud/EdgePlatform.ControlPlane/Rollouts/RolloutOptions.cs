using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.ControlPlane.Rollouts;

/// <summary>How the rollout engine runs (section <c>Rollouts</c>).</summary>
public sealed class RolloutOptions
{
    public const string Section = "Rollouts";

    /// <summary>How often running rollouts are advanced and their gates read. Default 5 seconds.</summary>
    [Range(1, 3600)]
    public int TickSeconds { get; set; } = 5;

    /// <summary>
    /// How long an online device may take from receiving a version to reporting it active before
    /// it counts as failed, when a rollout does not say. Default 30 minutes.
    /// </summary>
    [Range(10, 7 * 24 * 3600)]
    public int DefaultDeviceTimeoutSeconds { get; set; } = 1800;
}
