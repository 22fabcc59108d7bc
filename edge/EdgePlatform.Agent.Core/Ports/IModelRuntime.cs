using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Core.Ports;

/// <summary>
/// Runs models: loads and warms a version beside the active one, then swaps atomically. Beside
/// the active (control) model an experiment's candidate can run as a second arm, staged the same
/// way and sharing events with the control as its <see cref="ExperimentCandidate"/> placement says.
/// </summary>
public interface IModelRuntime
{
    /// <summary>The active model, or null before the first activation.</summary>
    InstalledModel? Active { get; }

    /// <summary>Loads and warms a model without making it active; throws <see cref="ModelStageException"/> on failure.</summary>
    Task<IStagedModel> StageAsync(InstalledModel model, CancellationToken cancellationToken);

    /// <summary>Makes a staged model the active one; events in flight finish on the model that took them.</summary>
    void Activate(IStagedModel staged);

    /// <summary>The model in the candidate arm, or null when the control scores alone.</summary>
    InstalledModel? Candidate { get; }

    /// <summary>
    /// Makes a staged model the candidate arm, sharing events with the control as
    /// <paramref name="placement"/> says (split by its salted key buckets, or shadow); a candidate
    /// already there is swapped out, its events in flight finishing on it.
    /// </summary>
    void ActivateCandidate(IStagedModel staged, ExperimentCandidate placement);

    /// <summary>Changes how the running candidate shares events (mode, percent, key field, salt) without reloading it.</summary>
    void SetCandidateArms(ExperimentCandidate placement);

    /// <summary>Goes back to the control alone and unloads the candidate; nothing happens when there is none.</summary>
    void DeactivateCandidate();
}

/// <summary>A loaded and warmed model that is not active yet; disposing it unloads it.</summary>
public interface IStagedModel : IDisposable
{
    InstalledModel Model { get; }
}

/// <summary>A verified package on local disk.</summary>
public sealed record InstalledModel(ModelReference Reference, ModelCard Card, string ModelPath)
{
    /// <summary>
    /// The release's container image as the verified targets entry approves it, null when the
    /// release has none; a runtime that runs <see cref="ModelReference.RunsInContainer"/> models
    /// pulls and checks exactly this.
    /// </summary>
    public EdgePlatform.Security.Tuf.ContainerImageTarget? Image { get; init; }
}

public sealed class ModelStageException : Exception
{
    public ModelStageException()
    {
    }

    public ModelStageException(string message)
        : base(message)
    {
    }

    public ModelStageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
