using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Contracts;

namespace EdgePlatform.FleetSim.Adapters;

/// <summary>
/// The model runtime of a simulated device: staging takes the configured warm-up time (and fails
/// for versions told to fail it) instead of loading ONNX; activation swaps the active version.
/// Scoring is what <see cref="DeviceTelemetry"/> reports for the active version. An experiment's
/// candidate is staged the same way and held beside it with the placement it runs under.
/// </summary>
internal sealed class SimulatedModelRuntime(SimulatorOptions options, FleetCounters counters, TimeProvider timeProvider) : IModelRuntime
{
    private volatile InstalledModel? _active;
    private volatile CandidateArm? _candidate;

    public InstalledModel? Active => _active;

    public InstalledModel? Candidate => _candidate?.Model;

    /// <summary>How the candidate shares events with the active version, or null when the active one scores alone.</summary>
    public ExperimentCandidate? CandidatePlacement => _candidate?.Placement;

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

    public void ActivateCandidate(IStagedModel staged, ExperimentCandidate placement)
    {
        ArgumentNullException.ThrowIfNull(staged);
        ArgumentNullException.ThrowIfNull(placement);
        _candidate = new CandidateArm(staged.Model, placement);
    }

    public void SetCandidateArms(ExperimentCandidate placement)
    {
        ArgumentNullException.ThrowIfNull(placement);
        var running = _candidate ?? throw new InvalidOperationException("no candidate is active");
        _candidate = running with { Placement = placement };
    }

    public void DeactivateCandidate() => _candidate = null;

    private sealed record CandidateArm(InstalledModel Model, ExperimentCandidate Placement);

    private sealed record Staged(InstalledModel Model) : IStagedModel
    {
        public void Dispose()
        {
            // Nothing was loaded.
        }
    }
}
