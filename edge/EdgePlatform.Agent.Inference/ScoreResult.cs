namespace EdgePlatform.Agent.Inference;

/// <summary>
/// What the model said about one event. A field is null when the model's card binds no
/// output to it. <see cref="Latency"/> covers binding and inference.
/// </summary>
public readonly record struct ScoreResult(
    ModelIdentity Model,
    string? CorrelationId,
    bool? Label,
    float? Score,
    float? Probability,
    TimeSpan Latency);

/// <summary>What the model said about one row of a batch; null where the card binds no output.</summary>
public readonly record struct RowPrediction(bool? Label, float? Score, float? Probability);
