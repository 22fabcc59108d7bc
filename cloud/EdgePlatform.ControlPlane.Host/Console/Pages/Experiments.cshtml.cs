using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Experiments;

namespace EdgePlatform.ControlPlane.Host.Console.Pages;

public sealed class ExperimentsModel(ExperimentService experiments) : ConsolePage
{
    public IReadOnlyList<ExperimentInfo> Experiments { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        Experiments = [.. (await experiments.ListAsync(cancellationToken).ConfigureAwait(false)).OrderByDescending(e => e.CreatedAt)];
        LiveFeed = "/console/live/experiments";
    }
}
