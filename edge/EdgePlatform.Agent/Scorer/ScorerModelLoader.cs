using EdgePlatform.Agent.Inference;
using EdgePlatform.Agent.Inference.Engine;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Scorer;

/// <summary>
/// Loads, checks and warms the one model of <see cref="ScorerOptions.ModelDirectory"/> before the
/// endpoint takes requests, and makes it the engine's control model; a model that cannot be served
/// stops the start with a <see cref="ScorerModelException"/> naming the file and the check.
/// </summary>
public sealed partial class ScorerModelLoader(
    InferenceEngine engine,
    IOptions<ScorerOptions> scorer,
    IOptions<OnnxModelSettings> settings,
    ILoggerFactory loggerFactory,
    TimeProvider timeProvider) : IHostedService
{
    private readonly ILogger _logger = loggerFactory.CreateLogger<ScorerModelLoader>();

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var options = scorer.Value;
        var card = ModelCard.Read(await File.ReadAllBytesAsync(options.CardPath, cancellationToken).ConfigureAwait(false), out var problem)
            ?? throw new ScorerModelException($"{options.CardPath}: {problem}");

        // Loading parses and optimizes the graph: off the start's thread, like the agent's runtime.
        var loaded = await Task.Run(() => Load(card, options.ModelPath), cancellationToken).ConfigureAwait(false);
        engine.Control.Activate(loaded);
        ServingModel(_logger, card.Name, card.Version, loaded.Identity.OnnxDigest, options.ModelDirectory);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private LoadedModel Load(ModelCard card, string modelPath)
    {
        LoadedModel? loaded = null;
        try
        {
            loaded = LoadedModel.Load(card, modelPath, settings.Value, loggerFactory.CreateLogger<LoadedModel>(), timeProvider);
            loaded.Warm();
            return loaded;
        }
        catch (ModelLoadException ex)
        {
            loaded?.Dispose();
            throw new ScorerModelException($"{modelPath} with its card ({card.Name}:{card.Version}) does not load: {ex.Message}", ex);
        }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException ex)
        {
            loaded?.Dispose();
            throw new ScorerModelException($"{modelPath} ({card.Name}:{card.Version}) failed warm-up: {ex.Message}", ex);
        }
    }

    [LoggerMessage(EventId = 2400, Level = LogLevel.Information, Message = "Scorer serving model {ModelName} {ModelVersion} ({OnnxDigest}) from {ModelDirectory}")]
    private static partial void ServingModel(ILogger logger, string modelName, string modelVersion, string onnxDigest, string modelDirectory);
}
