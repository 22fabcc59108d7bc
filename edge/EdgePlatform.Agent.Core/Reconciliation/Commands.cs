using EdgePlatform.Agent.Core.Packages;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Core.Reconciliation;

/// <summary>What the steps of one plan hand each other.</summary>
public sealed class ReconcileContext
{
    public InstalledModel? Installed { get; set; }

    public IStagedModel? Staged { get; set; }
}

/// <summary>
/// Pulls the package, checking as the bytes arrive: approval by fresh signed metadata before
/// anything is fetched, the manifest's digest and signature before its blobs, each blob's size
/// and digest. Nothing to undo: blobs are content-addressed.
/// </summary>
public sealed class DownloadPackageCommand(PackageInstaller installer, ModelReference reference) : ICommand
{
    public string Name => $"download {reference.Name}:{reference.Version}";

    public async Task ExecuteAsync(ReconcileContext context, CancellationToken cancellationToken) =>
        context.Installed = await installer.InstallAsync(reference, cancellationToken).ConfigureAwait(false);

    public Task UndoAsync(ReconcileContext context, CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>
/// Verifies the package as it lies on disk, as a restart would load it: still approved by the
/// verified metadata, manifest and every blob hashed again, the model card readable. What runs is
/// what was checked, even if the disk changed after the download.
/// </summary>
public sealed class VerifyPackageCommand(PackageInstaller installer, ModelReference reference) : ICommand
{
    public string Name => $"verify {reference.Name}:{reference.Version}";

    public async Task ExecuteAsync(ReconcileContext context, CancellationToken cancellationToken) =>
        context.Installed = await installer.LoadInstalledAsync(reference, cancellationToken).ConfigureAwait(false);

    public Task UndoAsync(ReconcileContext context, CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Loads and warms the new version beside the active one.</summary>
public sealed class StageModelCommand(IModelRuntime runtime) : ICommand
{
    public string Name => "stage";

    public async Task ExecuteAsync(ReconcileContext context, CancellationToken cancellationToken)
    {
        var installed = context.Installed ?? throw new InvalidOperationException("stage needs an installed package");
        context.Staged = await runtime.StageAsync(installed, cancellationToken).ConfigureAwait(false);
    }

    public Task UndoAsync(ReconcileContext context, CancellationToken cancellationToken)
    {
        context.Staged?.Dispose();
        context.Staged = null;
        return Task.CompletedTask;
    }
}

/// <summary>Swaps the staged version in; undo brings the previous version back from disk.</summary>
public sealed class ActivateModelCommand(IModelRuntime runtime, PackageInstaller installer) : ICommand
{
    private InstalledModel? _previous;

    public string Name => "activate";

    public Task ExecuteAsync(ReconcileContext context, CancellationToken cancellationToken)
    {
        var staged = context.Staged ?? throw new InvalidOperationException("activate needs a staged model");
        _previous = runtime.Active;
        runtime.Activate(staged);
        context.Staged = null;
        return Task.CompletedTask;
    }

    public async Task UndoAsync(ReconcileContext context, CancellationToken cancellationToken)
    {
        if (_previous is null)
        {
            return;
        }

        var installed = await installer.LoadInstalledAsync(_previous.Reference, cancellationToken).ConfigureAwait(false);
        runtime.Activate(await runtime.StageAsync(installed, cancellationToken).ConfigureAwait(false));
    }
}

/// <summary>
/// Makes the staged version the experiment's candidate arm with the placement's policy; undo goes
/// back to the control alone, since a candidate the desired state no longer names must not score.
/// </summary>
public sealed class ActivateCandidateCommand(IModelRuntime runtime, ExperimentCandidate placement) : ICommand
{
    public string Name => "activate candidate";

    public Task ExecuteAsync(ReconcileContext context, CancellationToken cancellationToken)
    {
        var staged = context.Staged ?? throw new InvalidOperationException("activate candidate needs a staged model");
        runtime.ActivateCandidate(staged, placement);
        context.Staged = null;
        return Task.CompletedTask;
    }

    public Task UndoAsync(ReconcileContext context, CancellationToken cancellationToken)
    {
        runtime.DeactivateCandidate();
        return Task.CompletedTask;
    }
}

/// <summary>Records the new state durably; undo writes the old one back.</summary>
public sealed class RecordStateCommand(AgentStateStore store, AgentState next, AgentState previous) : ICommand
{
    public string Name => "record state";

    public Task ExecuteAsync(ReconcileContext context, CancellationToken cancellationToken) => store.SaveAsync(next, cancellationToken);

    public Task UndoAsync(ReconcileContext context, CancellationToken cancellationToken) => store.SaveAsync(previous, cancellationToken);
}
