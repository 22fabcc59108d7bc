using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Training;

namespace EdgePlatform.ControlPlane.Host.Console.Pages;

public sealed class TrainingModel(SweepService sweeps) : ConsolePage
{
    public IReadOnlyList<SweepInfo> Sweeps { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        Sweeps = [.. (await sweeps.ListAsync(cancellationToken).ConfigureAwait(false)).OrderByDescending(s => s.CreatedAt)];
        LiveFeed = "/console/live/training";
    }
}
