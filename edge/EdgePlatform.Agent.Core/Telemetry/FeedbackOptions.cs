using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.Agent.Core.Telemetry;

/// <summary>
/// The memory of recent predictions that labelled feedback is matched against (section
/// <c>Feedback</c>). Size it to the event rate times the longest delay before a label arrives:
/// feedback for a prediction that has left the memory is counted as unmatched.
/// </summary>
public sealed class FeedbackOptions
{
    public const string Section = "Feedback";

    /// <summary>
    /// Predictions remembered, the oldest forgotten first. Default 20,000 (about 2 MB). 0 remembers
    /// none, sparing the scoring path a map insert per event where no labels ever come back; all
    /// feedback is then unmatched.
    /// </summary>
    [Range(0, 10_000_000)]
    public int MemoryCapacity { get; set; } = 20_000;

    /// <summary>Seconds a prediction waits for its label before it is forgotten. Default 600.</summary>
    [Range(1, 7 * 24 * 3600)]
    public int MaxAgeSeconds { get; set; } = 600;
}
