using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.Agent.Core.Reconciliation;

/// <summary>
/// The on-device health gate (section <c>Probation</c>): after a new version becomes active, the
/// agent watches it for a while and goes back to the previous version by itself when it errs.
/// </summary>
public sealed class ProbationOptions
{
    public const string Section = "Probation";

    /// <summary>How long a new version is watched; 0 switches probation off. Default 5 minutes.</summary>
    [Range(0, 24 * 3600)]
    public int WindowSeconds { get; set; } = 300;

    /// <summary>How often the window is checked. Default 5 seconds.</summary>
    [Range(1, 3600)]
    public int CheckSeconds { get; set; } = 5;

    /// <summary>Events (scored or failed) needed before the error rate is judged. Default 20.</summary>
    [Range(1, long.MaxValue)]
    public long MinEvents { get; set; } = 20;

    /// <summary>Errors per event above which the version is reverted. Default 0.5.</summary>
    [Range(0.0, 1.0)]
    public double MaxErrorRate { get; set; } = 0.5;
}
