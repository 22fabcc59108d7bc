namespace EdgePlatform.Agent.Core.Ports;

/// <summary>
/// Runs a model's container image: pulls it, proves it is the image the signed targets entry
/// names, starts it with its limits and waits until it reports healthy. What it started and has
/// not removed yet it holds; anything else labelled as this agent's is a stray.
/// </summary>
public interface IModelContainers
{
    /// <summary>
    /// Pulls, verifies, creates and starts the container of <paramref name="model"/> and waits
    /// for it to be healthy. A refused image throws <see cref="Packages.PackageRejectedException"/>
    /// before any container exists; a container that does not become healthy is removed and
    /// <see cref="ModelStageException"/> thrown.
    /// </summary>
    Task<IModelContainer> StartAsync(InstalledModel model, CancellationToken cancellationToken);

    /// <summary>Removes every container labelled as this agent's that it does not hold (left by a crash); returns how many.</summary>
    Task<int> RemoveStraysAsync(CancellationToken cancellationToken);
}

/// <summary>A healthy model container; disposing it stops and removes it.</summary>
public interface IModelContainer : IAsyncDisposable
{
    /// <summary>The engine's container id.</summary>
    string Id { get; }

    /// <summary>Where its v2 endpoint answers, on this machine's loopback.</summary>
    Uri BaseAddress { get; }

    /// <summary>The bearer token its v2 endpoint wants, made for this container alone.</summary>
    string BearerToken { get; }

    /// <summary>How long one batch may take through its v2 endpoint before the batch fails.</summary>
    TimeSpan ScoringTimeout { get; }
}
