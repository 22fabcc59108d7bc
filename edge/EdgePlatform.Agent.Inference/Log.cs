using Microsoft.Extensions.Logging;

namespace EdgePlatform.Agent.Inference;

/// <summary>Log messages of the inference engine. Event ids are stable: dashboards and alerts key on them.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 3100, Level = LogLevel.Information,
        Message = "Loaded model {ModelName} {ModelVersion} ({OnnxDigest}), {FeatureCount} features, in {ElapsedMs:F1} ms")]
    public static partial void ModelLoaded(ILogger logger, string modelName, string modelVersion, string onnxDigest, int featureCount, double elapsedMs);

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information,
        Message = "Warmed model {ModelName} {ModelVersion} in {ElapsedMs:F1} ms")]
    public static partial void ModelWarmed(ILogger logger, string modelName, string modelVersion, double elapsedMs);

    [LoggerMessage(EventId = 3110, Level = LogLevel.Information,
        Message = "Activated model {ModelName} {ModelVersion} ({OnnxDigest})")]
    public static partial void ModelActivated(ILogger logger, string modelName, string modelVersion, string onnxDigest);

    [LoggerMessage(EventId = 3111, Level = LogLevel.Information,
        Message = "Retired model {ModelName} {ModelVersion} ({OnnxDigest}); it is disposed once its in-flight events finish")]
    public static partial void ModelRetired(ILogger logger, string modelName, string modelVersion, string onnxDigest);

    [LoggerMessage(EventId = 3112, Level = LogLevel.Debug,
        Message = "Disposed retired model {ModelName} {ModelVersion} ({OnnxDigest})")]
    public static partial void RetiredModelDisposed(ILogger logger, string modelName, string modelVersion, string onnxDigest);

    [LoggerMessage(EventId = 3120, Level = LogLevel.Information,
        Message = "Arms set to {Mode} (candidate share {CandidatePercent}% by field '{KeyField}')")]
    public static partial void ArmsChanged(ILogger logger, Engine.ArmMode mode, double candidatePercent, string keyField);

    [LoggerMessage(EventId = 3121, Level = LogLevel.Error,
        Message = "Scoring a batch of {Count} events on {ModelName} {ModelVersion} ({Arm}) failed: {Reason}")]
    public static partial void BatchFailed(ILogger logger, int count, string modelName, string modelVersion, string arm, string reason);

    [LoggerMessage(EventId = 3122, Level = LogLevel.Error,
        Message = "An inference sink threw while taking an outcome; the event is counted but its source was not told")]
    public static partial void SinkFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3123, Level = LogLevel.Information,
        Message = "Inference engine started: batches of up to {MaxBatchSize}, queue delay up to {MaxQueueDelayMs} ms, queue of {QueueCapacity} ({Policy} when full)")]
    public static partial void EngineStarted(ILogger logger, int maxBatchSize, double maxQueueDelayMs, int queueCapacity, Engine.QueueFullPolicy policy);

    [LoggerMessage(EventId = 3124, Level = LogLevel.Information,
        Message = "Inference engine stopped after scoring the {Count} events still queued")]
    public static partial void EngineDrained(ILogger logger, int count);

    [LoggerMessage(EventId = 3130, Level = LogLevel.Information,
        Message = "Warmed model {ModelName} {ModelVersion} served at {BaseAddress} in {ElapsedMs:F1} ms")]
    public static partial void RemoteModelWarmed(ILogger logger, string modelName, string modelVersion, Uri baseAddress, double elapsedMs);

    [LoggerMessage(EventId = 3131, Level = LogLevel.Error,
        Message = "Stopping the server of retired model {ModelName} {ModelVersion} failed")]
    public static partial void RemoteServerDisposeFailed(ILogger logger, string modelName, string modelVersion, Exception exception);
}
