namespace EdgePlatform.Agent.Inference.Engine;

/// <summary>Why an event left the engine without a prediction.</summary>
public enum EventOutcome
{
    /// <summary>A field is missing or of the wrong type, or the payload is not an event; the reason says which.</summary>
    BindingFailed,

    /// <summary>No control model is active.</summary>
    NoModel,

    /// <summary>ONNX Runtime failed on the batch that held the event.</summary>
    ScoringFailed,

    /// <summary>The queue was full and the event was the oldest in it (<see cref="QueueFullPolicy.DropOldest"/>).</summary>
    Dropped,

    /// <summary>The engine stopped before the event was scored.</summary>
    Stopped,
}

/// <summary>A published prediction: the control arm's, or the split arm's that took the event.</summary>
public readonly record struct ScoredEvent(
    ModelIdentity Model,
    string Arm,
    string? CorrelationId,
    RowPrediction Prediction,
    TimeSpan Latency);

/// <summary>
/// Where the engine reports what became of each event: exactly one call per accepted event,
/// either <see cref="OnScored"/> or <see cref="OnFailed"/>, so a source can count its events
/// in and out. Called on the engine's scoring thread (or, for a drop, the thread that queued
/// the event that displaced it): return quickly and hand slow work, such as publishing, elsewhere.
/// </summary>
public interface IInferenceSink
{
    void OnScored(in InferenceEvent inferenceEvent, in ScoredEvent scored);

    void OnFailed(in InferenceEvent inferenceEvent, EventOutcome outcome, string reason);
}
