using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.ControlPlane.Experiments;

/// <summary>How running experiments are driven (section <c>Experiments</c>).</summary>
public sealed class ExperimentOptions
{
    public const string Section = "Experiments";

    /// <summary>
    /// How often each running experiment places new devices, checks its end date and takes a
    /// look (an analysis that its guardrails are judged on). Every look counts for the
    /// sequential intervals, so looking more often costs nothing in validity. Default 60 seconds.
    /// </summary>
    [Range(1, 24 * 3600)]
    public int LookSeconds { get; set; } = 60;
}
