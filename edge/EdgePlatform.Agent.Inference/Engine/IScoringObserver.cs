namespace EdgePlatform.Agent.Inference.Engine;

/// <summary>
/// Told what each model version did on each arm, batch by batch, for telemetry: unlike an
/// <see cref="IInferenceSink"/>, which hears of each event once on behalf of its source, an
/// observer hears of every arm that saw the event, shadow arms included, and sees the features
/// as bound. Called on the engine's scoring thread (and, for drops, on the thread whose event
/// displaced another): keep it to counter updates.
/// </summary>
public interface IScoringObserver
{
    /// <summary>One ONNX Runtime run on one arm, with every row it scored.</summary>
    void OnScored(in ScoredRun run);

    /// <summary>
    /// Events that ended without a prediction on <paramref name="model"/>'s <paramref name="arm"/>:
    /// binding to this model failed, its run failed, or a full queue dropped or refused them while
    /// it was the control (<see cref="EventOutcome.Dropped"/>). Not called when no model was active.
    /// </summary>
    void OnFailed(ScoringModel model, string arm, EventOutcome outcome, int events);

    /// <summary>
    /// Shadow mode: of one run of the candidate <paramref name="model"/> on <paramref name="arm"/>,
    /// <paramref name="compared"/> events the control had also scored, on <paramref name="agreements"/>
    /// of which the two arms' labels agreed (the rule <see cref="ShadowComparison"/> counts by).
    /// Called after <see cref="OnScored"/> for the run, and only when something was compared.
    /// </summary>
    void OnCompared(ScoringModel model, string arm, int compared, int agreements);
}

/// <summary>
/// One run of a model on an arm: <see cref="Predictions"/>, <see cref="Latencies"/> and
/// <see cref="CorrelationIds"/> have one entry per scored row, and <see cref="Features"/> holds
/// those rows as bound, <see cref="ScoringModel.FeatureCount"/> values each. Valid only during the call.
/// </summary>
public readonly ref struct ScoredRun
{
    public ScoredRun(
        ScoringModel model,
        string arm,
        ReadOnlySpan<float> features,
        ReadOnlySpan<RowPrediction> predictions,
        ReadOnlySpan<TimeSpan> latencies,
        ReadOnlySpan<string?> correlationIds)
    {
        Model = model;
        Arm = arm;
        Features = features;
        Predictions = predictions;
        Latencies = latencies;
        CorrelationIds = correlationIds;
    }

    public ScoringModel Model { get; }

    public string Arm { get; }

    public ReadOnlySpan<float> Features { get; }

    public ReadOnlySpan<RowPrediction> Predictions { get; }

    /// <summary>From the engine accepting each event to its prediction: queue wait, binding and inference.</summary>
    public ReadOnlySpan<TimeSpan> Latencies { get; }

    public ReadOnlySpan<string?> CorrelationIds { get; }
}
