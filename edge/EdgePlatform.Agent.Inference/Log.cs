using Microsoft.Extensions.Logging;

namespace EdgePlatform.Agent.Inference;

/// <summary>Log messages of the inference engine. Event ids are stable: dashboards and alerts key on them.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 3100, Level = LogLevel.Information,
        Message = "Loaded model {ModelName} {ModelVersion} ({ModelDigest}), {FeatureCount} features, in {ElapsedMs:F1} ms")]
    public static partial void ModelLoaded(ILogger logger, string modelName, string modelVersion, string modelDigest, int featureCount, double elapsedMs);

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information,
        Message = "Warmed model {ModelName} {ModelVersion} in {ElapsedMs:F1} ms")]
    public static partial void ModelWarmed(ILogger logger, string modelName, string modelVersion, double elapsedMs);

    [LoggerMessage(EventId = 3110, Level = LogLevel.Information,
        Message = "Activated model {ModelName} {ModelVersion} ({ModelDigest})")]
    public static partial void ModelActivated(ILogger logger, string modelName, string modelVersion, string modelDigest);

    [LoggerMessage(EventId = 3111, Level = LogLevel.Information,
        Message = "Retired model {ModelName} {ModelVersion} ({ModelDigest}); it is disposed once its in-flight events finish")]
    public static partial void ModelRetired(ILogger logger, string modelName, string modelVersion, string modelDigest);

    [LoggerMessage(EventId = 3112, Level = LogLevel.Debug,
        Message = "Disposed retired model {ModelName} {ModelVersion} ({ModelDigest})")]
    public static partial void RetiredModelDisposed(ILogger logger, string modelName, string modelVersion, string modelDigest);
}
