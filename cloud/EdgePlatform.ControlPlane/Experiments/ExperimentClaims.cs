using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Rollouts;

namespace EdgePlatform.ControlPlane.Experiments;

/// <summary>
/// The devices running experiments select, as claims beside rollouts': a device matching the
/// selector that may receive a model and (for group experiments) carries the group tag.
/// </summary>
public sealed class ExperimentClaims(IExperimentStore experiments) : IDeviceClaimSource
{
    private static readonly string[] Running = [ExperimentStates.Running];

    public async Task<IReadOnlyList<DeviceClaim>> ClaimsAsync(CancellationToken cancellationToken)
    {
        var running = await experiments.ListExperimentsAsync(Running, cancellationToken).ConfigureAwait(false);
        var claims = new List<DeviceClaim>(running.Count);
        foreach (var experiment in running)
        {
            try
            {
                claims.Add(Claim(experiment, Selector.Parse(experiment.Selector)));
            }
            catch (SelectorSyntaxException)
            {
                // Only a selector that bypassed the API gets here: it selects nothing.
            }
        }

        return claims;
    }

    public static DeviceClaim Claim(ExperimentInfo experiment, Selector selector)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        ArgumentNullException.ThrowIfNull(selector);
        return new DeviceClaim(
            experiment.Id,
            DeviceClaim.Experiment,
            experiment.Priority,
            experiment.CreatedAt,
            d => d.DeploymentRefusal is null && selector.Matches(d.Tags) && ExperimentAssignment.UnitOf(experiment, d) is not null);
    }
}
