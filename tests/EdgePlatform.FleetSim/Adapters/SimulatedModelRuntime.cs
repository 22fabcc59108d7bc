using EdgePlatform.Agent.Core.Ports;

namespace EdgePlatform.FleetSim.Adapters;

/// <summary>
/// The model runtime of a simulated device: staging takes the configured warm-up time (and fails
/// for versions told to fail it) instead of loading ONNX; activation swaps the active version.
/// Scoring is what <see cref="DeviceTelemetry"/> reports for the active version.
/// </summary>
internal sealed class SimulatedModelRuntime(SimulatorOptions options, FleetCounters counters, TimeProvider timeProvider) : IModelRuntime
{
    private volatile InstalledModel? _active;

    public InstalledModel? Active => _active;

    public async Task<IStagedModel> StageAsync(InstalledModel model, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (options.WarmUpSeconds > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds(options.WarmUpSeconds), timeProvider, cancellationToken).ConfigureAwait(false);
        }

        var reference = model.Reference;
        if (options.BehaviourOf(reference.Name, reference.Version).FailsWarmUp)
        {
            counters.AddWarmUpFailure();
            throw new ModelStageException($"warm-up failed for {reference.Name}:{reference.Version} (simulated failure)");
        }

        return new Staged(model);
    }

    public void Activate(IStagedModel staged)
    {
        ArgumentNullException.ThrowIfNull(staged);
        _active = staged.Model;
        counters.AddInstalled();
    }

    private sealed record Staged(InstalledModel Model) : IStagedModel
    {
        public void Dispose()
        {
            // Nothing was loaded.
        }
    }
}
