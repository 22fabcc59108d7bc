using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.Agent.Inference.Engine;

/// <summary>What the engine does with an event that arrives while its queue is full.</summary>
public enum QueueFullPolicy
{
    /// <summary>The oldest queued event is dropped to make room: fresh readings matter more than stale ones.</summary>
    DropOldest,

    /// <summary>The new event is refused; the source learns at once and may retry or slow down.</summary>
    Reject,
}

/// <summary>Micro-batching and back-pressure of the inference engine (configuration section <c>Inference</c>).</summary>
public sealed class InferenceEngineOptions
{
    /// <summary>Most events scored in one ONNX Runtime run. Default 64.</summary>
    [Range(1, 4096)]
    public int MaxBatchSize { get; set; } = 64;

    /// <summary>
    /// Longest an event waits in the queue for others to share its batch, in milliseconds.
    /// Default 2: on a small device the batch a short wait gathers saves more CPU than it costs
    /// in latency. The wait is this ceiling scaled by the share of recent time the engine spent
    /// scoring, so under light load a lone event is scored almost at once and under heavy load
    /// batches fill. 0 scores whatever is queued at once (Triton's default), so a lone event pays
    /// no wait; batches then grow only while the previous one runs.
    /// </summary>
    [Range(0.0, 1000.0)]
    public double MaxQueueDelayMs { get; set; } = 2;

    /// <summary>Events the queue holds before <see cref="QueueFullPolicy"/> applies. Default 10,000.</summary>
    [Range(1, 10_000_000)]
    public int QueueCapacity { get; set; } = 10_000;

    /// <summary>Default <see cref="QueueFullPolicy.DropOldest"/>.</summary>
    public QueueFullPolicy QueueFullPolicy { get; set; } = QueueFullPolicy.DropOldest;

    public TimeSpan MaxQueueDelay => TimeSpan.FromMilliseconds(MaxQueueDelayMs);
}
