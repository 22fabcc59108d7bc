using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Core.Reconciliation;
using Microsoft.Extensions.Hosting;

namespace EdgePlatform.Agent.Docker;

/// <summary>
/// Removes model containers a crash left behind: once when the agent starts, and after every
/// reconcile, so a container survives only while the state the agent runs names it.
/// </summary>
public sealed class StrayContainerSweeper(IModelContainers containers, Reconciler reconciler) : BackgroundService
{
    private readonly SemaphoreSlim _sweeping = new(1, 1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await SweepAsync(stoppingToken).ConfigureAwait(false);
        reconciler.Reconciled += outcome => _ = SweepAsync(stoppingToken);
    }

    public override void Dispose()
    {
        _sweeping.Dispose();
        base.Dispose();
    }

    private async Task SweepAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _sweeping.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
            return;
        }

        try
        {
            await containers.RemoveStraysAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down.
        }
        finally
        {
            _sweeping.Release();
        }
    }
}
