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
    DateTimeOffset ScoredAt)
{
    /// <summary>A multiclass model's predicted class, one of its card's classes; absent for other tasks.</summary>
    public string? Class { get; init; }

    /// <summary>A multiclass model's probability of each class, in the order of its card's classes; absent when its card binds none.</summary>
    public IReadOnlyList<float>? Probabilities { get; init; }
}

/// <summary>
/// The true outcome of an event, published on the device's local feedback topic once it is known:
/// <see cref="Id"/> is the event's correlation id (as carried into its prediction) and
/// <see cref="Label"/> is <c>true</c>, <c>false</c>, <c>0</c> or <c>1</c> for a binary classifier,
/// the true value for a regression model, or the true class name for a multiclass model.
/// </summary>
public sealed record LabelFeedback(string? Id, System.Text.Json.JsonElement Label);

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
