using Microsoft.Extensions.Logging;

namespace EdgePlatform.Agent.Docker;

/// <summary>Log messages of the container runtime (event ids 3300–3399). Ids are stable: dashboards and alerts key on them.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 3300, Level = LogLevel.Information, Message = "Pulled image blob {Digest} ({Size} bytes)")]
    public static partial void ImageBlobPulled(ILogger logger, string digest, long size);

    [LoggerMessage(EventId = 3301, Level = LogLevel.Information,
        Message = "Loaded the image of {Release} for {Platform} (manifest {ManifestDigest}) as {ImageId}")]
    public static partial void ImageLoaded(ILogger logger, string release, string platform, string manifestDigest, string imageId);

    [LoggerMessage(EventId = 3310, Level = LogLevel.Information,
        Message = "Started container {Container} ({ContainerId}) for {Release}, v2 endpoint on {BaseAddress}")]
    public static partial void ContainerStarted(ILogger logger, string container, string containerId, string release, Uri baseAddress);

    [LoggerMessage(EventId = 3311, Level = LogLevel.Information, Message = "Container {Container} for {Release} is healthy after {ElapsedMs:F0} ms")]
    public static partial void ContainerHealthy(ILogger logger, string container, string release, double elapsedMs);

    [LoggerMessage(EventId = 3312, Level = LogLevel.Warning, Message = "Container {Container} for {Release} failed its start: {Reason}; it was removed")]
    public static partial void ContainerFailed(ILogger logger, string container, string release, string reason);

    [LoggerMessage(EventId = 3313, Level = LogLevel.Information, Message = "Stopped and removed container {Container} ({ContainerId})")]
    public static partial void ContainerRemoved(ILogger logger, string container, string containerId);

    [LoggerMessage(EventId = 3314, Level = LogLevel.Warning,
        Message = "Removed stray container {Container} ({ContainerId}) of {Model}:{Version}: labelled as this agent's, but nothing it runs now")]
    public static partial void StrayRemoved(ILogger logger, string container, string containerId, string model, string version);

    [LoggerMessage(EventId = 3315, Level = LogLevel.Warning, Message = "Could not look for stray model containers: {Reason}")]
    public static partial void StrayScanFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 3316, Level = LogLevel.Error, Message = "Removing container {Container} ({ContainerId}) failed")]
    public static partial void RemoveFailed(ILogger logger, string container, string containerId, Exception exception);

    [LoggerMessage(EventId = 3320, Level = LogLevel.Information, Message = "[{Container}] {Line}")]
    public static partial void ContainerOutput(ILogger logger, string container, string line);

    [LoggerMessage(EventId = 3321, Level = LogLevel.Debug, Message = "Following the log of container {Container} ended: {Reason}")]
    public static partial void ContainerOutputEnded(ILogger logger, string container, string reason);
}
