using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Inference;
using EdgePlatform.Agent.Inference.Engine;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Runtime;

/// <summary>
/// The <see cref="IModelRuntime"/> port over the inference engine: load and warm beside the active
/// model, then swap; the control arm is the engine's <see cref="InferenceEngine.Control"/>, an
/// experiment's candidate its <see cref="InferenceEngine.Candidate"/> under <see cref="InferenceEngine.SetArms"/>.
/// Each model runs where its reference says: in-process on ONNX Runtime, or in its container image
/// (<see cref="ModelReference.RunsInContainer"/>) scored over the v2 protocol. Either way the engine
/// binds, batches, splits arms and records telemetry the same; a swapped-out container is stopped
/// and removed once its last batch has finished.
/// </summary>
public sealed class EngineModelRuntime(
    InferenceEngine engine,
    IOptions<OnnxModelSettings> settings,
    ILoggerFactory loggerFactory,
    TimeProvider timeProvider,
    IModelContainers? containers = null) : IModelRuntime
{
    private InstalledModel? _active;
    private InstalledModel? _candidate;

    public InstalledModel? Active => Volatile.Read(ref _active);

    public InstalledModel? Candidate => Volatile.Read(ref _candidate);

    public async Task<IStagedModel> StageAsync(InstalledModel model, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        var staged = model.Reference.RunsInContainer
            ? await StageContainerAsync(model, cancellationToken).ConfigureAwait(false)
            : await StageInProcessAsync(model, cancellationToken).ConfigureAwait(false);
        return new StagedModel(model, staged);
    }

    public void Activate(IStagedModel staged)
    {
        var model = staged as StagedModel ?? throw new ArgumentException("the model was not staged by this runtime", nameof(staged));
        engine.Control.Activate(model.TakeLoaded());
        Volatile.Write(ref _active, model.Model);
    }

    public void ActivateCandidate(IStagedModel staged, ExperimentCandidate placement)
    {
        var model = staged as StagedModel ?? throw new ArgumentException("the model was not staged by this runtime", nameof(staged));
        var policy = ArmPolicy.Of(placement);

        // The policy first: with no candidate yet every mode scores on the control alone, and a
        // candidate swapped in afterwards takes its share under the new policy from its first batch.
        engine.SetArms(policy);
        engine.Candidate.Activate(model.TakeLoaded());
        Volatile.Write(ref _candidate, model.Model);
    }

    public void SetCandidateArms(ExperimentCandidate placement) => engine.SetArms(ArmPolicy.Of(placement));

    public void DeactivateCandidate()
    {
        engine.SetArms(ArmPolicy.ControlOnly);
        engine.Candidate.Deactivate();
        Volatile.Write(ref _candidate, null);
    }

    private Task<ScoringModel> StageInProcessAsync(InstalledModel model, CancellationToken cancellationToken)
    {
        // Loading parses and optimizes the graph; keep it off the caller's thread.
        return Task.Run<ScoringModel>(
            () =>
            {
                LoadedModel? loaded = null;
                try
                {
                    loaded = LoadedModel.Load(model.Card, model.ModelPath, settings.Value, loggerFactory.CreateLogger<LoadedModel>(), timeProvider, model.Reference.ManifestDigest);
                    loaded.Warm();
                    return loaded;
                }
                catch (ModelLoadException ex)
                {
                    loaded?.Dispose();
                    throw new ModelStageException($"model {model.Card.Name}:{model.Card.Version} does not load: {ex.Message}", ex);
                }
                catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException ex)
                {
                    loaded?.Dispose();
                    throw new ModelStageException($"model {model.Card.Name}:{model.Card.Version} failed warm-up: {ex.Message}", ex);
                }
            },
            cancellationToken);
    }

    /// <summary>
    /// Starts the model's container (image verified, healthy) and warms a v2 client to it. A
    /// container whose client cannot be made or warmed is removed before the stage fails.
    /// </summary>
    private async Task<ScoringModel> StageContainerAsync(InstalledModel model, CancellationToken cancellationToken)
    {
        var release = $"{model.Card.Name}:{model.Card.Version}";
        if (containers is null)
        {
            throw new ModelStageException($"model {release} is deployed to run in a container, but this agent has no container runtime configured");
        }

        var container = await containers.StartAsync(model, cancellationToken).ConfigureAwait(false);
        InferenceProtocolModel scored;
        try
        {
            scored = InferenceProtocolModel.Connect(
                model.Card,
                model.ModelPath,
                new InferenceProtocolEndpoint(container.BaseAddress, container.BearerToken, container.ScoringTimeout),
                loggerFactory.CreateLogger<InferenceProtocolModel>(),
                timeProvider,
                model.Reference.ManifestDigest,
                server: container);
        }
        catch (ModelLoadException ex)
        {
            await container.DisposeAsync().ConfigureAwait(false);
            throw new ModelStageException($"model {release} cannot be scored through its container: {ex.Message}", ex);
        }

        try
        {
            await Task.Run(scored.Warm, cancellationToken).ConfigureAwait(false);
            return scored;
        }
        catch (Exception ex)
        {
            scored.Dispose();
            if (ex is ModelScoringException or ModelOutputException)
            {
                throw new ModelStageException($"model {release} failed warm-up in its container: {ex.Message}", ex);
            }

            throw;
        }
    }

    private sealed class StagedModel(InstalledModel model, ScoringModel loaded) : IStagedModel
    {
        private ScoringModel? _loaded = loaded;

        public InstalledModel Model { get; } = model;

        /// <summary>Hands the staged model to the host, which owns it from then on.</summary>
        public ScoringModel TakeLoaded() =>
            Interlocked.Exchange(ref _loaded, null) ?? throw new InvalidOperationException("the staged model was already activated or disposed");

        public void Dispose() => Interlocked.Exchange(ref _loaded, null)?.Dispose();
    }
}
