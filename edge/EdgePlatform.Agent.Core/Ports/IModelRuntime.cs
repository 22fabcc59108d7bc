using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Core.Ports;

/// <summary>Runs models: loads and warms a version beside the active one, then swaps atomically.</summary>
public interface IModelRuntime
{
    /// <summary>The active model, or null before the first activation.</summary>
    InstalledModel? Active { get; }

    /// <summary>Loads and warms a model without making it active; throws <see cref="ModelStageException"/> on failure.</summary>
    Task<IStagedModel> StageAsync(InstalledModel model, CancellationToken cancellationToken);

    /// <summary>Makes a staged model the active one; events in flight finish on the model that took them.</summary>
    void Activate(IStagedModel staged);
}

/// <summary>A loaded and warmed model that is not active yet; disposing it unloads it.</summary>
public interface IStagedModel : IDisposable
{
    InstalledModel Model { get; }
}

/// <summary>A verified package on local disk.</summary>
public sealed record InstalledModel(ModelReference Reference, ModelCard Card, string ModelPath);

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
