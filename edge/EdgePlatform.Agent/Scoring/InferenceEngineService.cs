using EdgePlatform.Agent.Inference.Engine;

namespace EdgePlatform.Agent.Scoring;

/// <summary>Runs the engine's scoring loop for the life of the agent; on shutdown the loop scores what is still queued.</summary>
public sealed class InferenceEngineService(InferenceEngine engine) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => engine.RunAsync(stoppingToken);
}
