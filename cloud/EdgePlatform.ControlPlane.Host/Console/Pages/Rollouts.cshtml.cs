using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Rollouts;

namespace EdgePlatform.ControlPlane.Host.Console.Pages;

public sealed class RolloutsModel(RolloutService rollouts) : ConsolePage
{
    public IReadOnlyList<RolloutInfo> Rollouts { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        Rollouts = [.. (await rollouts.ListAsync(cancellationToken).ConfigureAwait(false)).OrderByDescending(r => r.CreatedAt)];
        LiveFeed = "/console/live/rollouts";
    }
}
