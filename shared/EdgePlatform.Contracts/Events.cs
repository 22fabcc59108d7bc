namespace EdgePlatform.Contracts;

/// <summary>Published on the device's local prediction topic for every scored event.</summary>
public sealed record Prediction(
    string? CorrelationId,
    string Model,
    string ModelVersion,
    string Arm,
    bool? Label,
    float? Score,
    float? Probability,
    double LatencyMs,
    DateTimeOffset ScoredAt);

/// <summary>An event that could not be scored, and why.</summary>
public sealed record DeadLetter(string? CorrelationId, string SourceTopic, string Reason, string Payload, DateTimeOffset At);

public static class Arms
{
    public const string Control = "control";

    /// <summary>The model under trial beside the control, in a split or in shadow.</summary>
    public const string Candidate = "candidate";
}

/// <summary>Field names with a fixed meaning in device events.</summary>
public static class EventFields
{
    /// <summary>Carried into the prediction so a producer can match answers to its events.</summary>
    public const string CorrelationId = "id";
}
