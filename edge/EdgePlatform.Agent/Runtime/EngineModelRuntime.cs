using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Inference;
using EdgePlatform.Agent.Inference.Engine;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Runtime;

/// <summary>
/// The <see cref="IModelRuntime"/> port over ONNX Runtime: load and warm beside the active model,
/// then swap; the control arm is the engine's <see cref="InferenceEngine.Control"/>, an
/// experiment's candidate its <see cref="InferenceEngine.Candidate"/> under <see cref="InferenceEngine.SetArms"/>.
/// </summary>
public sealed class OnnxModelRuntime(
    InferenceEngine engine,
    IOptions<OnnxModelSettings> settings,
    ILoggerFactory loggerFactory,
    TimeProvider timeProvider) : IModelRuntime
{
    private InstalledModel? _active;
    private InstalledModel? _candidate;

    public InstalledModel? Active => Volatile.Read(ref _active);

    public InstalledModel? Candidate => Volatile.Read(ref _candidate);

    public Task<IStagedModel> StageAsync(InstalledModel model, CancellationToken cancellationToken)
    {
        // Loading parses and optimizes the graph; keep it off the caller's thread.
        return Task.Run<IStagedModel>(
            () =>
            {
                LoadedModel? loaded = null;
                try
                {
                    loaded = LoadedModel.Load(model.Card, model.ModelPath, settings.Value, loggerFactory.CreateLogger<LoadedModel>(), timeProvider, model.Reference.ManifestDigest);
                    loaded.Warm();
                    return new StagedModel(model, loaded);
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

    private sealed class StagedModel(InstalledModel model, LoadedModel loaded) : IStagedModel
    {
        private LoadedModel? _loaded = loaded;

        public InstalledModel Model { get; } = model;

        /// <summary>Hands the loaded model to the host, which owns it from then on.</summary>
        public LoadedModel TakeLoaded() =>
            Interlocked.Exchange(ref _loaded, null) ?? throw new InvalidOperationException("the staged model was already activated or disposed");

        public void Dispose() => Interlocked.Exchange(ref _loaded, null)?.Dispose();
    }
}
