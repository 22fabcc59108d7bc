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
    TimeSpan Latency)
{
    /// <summary>A multiclass model's predicted class, one of its card's classes; null for other tasks.</summary>
    public string? Class { get; init; }

    /// <summary>A multiclass model's probability of each of its card's classes, in their order; null when its card binds no probabilities.</summary>
    public IReadOnlyList<float>? Probabilities { get; init; }
}

/// <summary>What the model said about one row of a batch; null where the card binds no output.</summary>
public readonly record struct RowPrediction(bool? Label, float? Score, float? Probability)
{
    /// <summary>A multiclass model's predicted class: its label output, else the class of the highest probability.</summary>
    public string? Class { get; init; }

    /// <summary>A multiclass model's probability of each class, in the card's class order.</summary>
    public IReadOnlyList<float>? Probabilities { get; init; }

    /// <summary>
    /// Set when the graph gave this row an output its card cannot read (a class index outside the
    /// card's classes, a class name it does not list): the row has no usable prediction, and this says why.
    /// </summary>
    public string? Problem { get; init; }
}
