using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Devices;

/// <summary>
/// A live claim on devices by a rollout or an experiment: who claims (<see cref="Owner"/>, of
/// <see cref="Kind"/> <c>rollout</c> or <c>experiment</c>), how strongly, and which devices.
/// </summary>
public sealed record DeviceClaim(string Owner, string Kind, int Priority, DateTimeOffset CreatedAt, Func<DeviceRecord, bool> Selects)
{
    public const string Rollout = "rollout";
    public const string Experiment = "experiment";

    /// <summary>How a device's entry says who took it, such as "experiment ex-1 has priority".</summary>
    public string Describe() => $"{Kind} {Owner} has priority";
}

/// <summary>The live claims of one kind (rollouts, experiments); each engine reads the other's through this.</summary>
public interface IDeviceClaimSource
{
    Task<IReadOnlyList<DeviceClaim>> ClaimsAsync(CancellationToken cancellationToken);
}

/// <summary>
/// Which claim owns each device, the one rule rollouts and experiments both follow: the highest
/// priority wins; on a tie the newer claim (as with layered deployments), then the greater id.
/// Every engine computes owners from every kind's claims, so no two of them write one device.
/// </summary>
public static class DeviceClaims
{
    public static Dictionary<string, DeviceClaim> Owners(IEnumerable<DeviceRecord> fleet, IReadOnlyList<DeviceClaim> claims)
    {
        ArgumentNullException.ThrowIfNull(fleet);
        ArgumentNullException.ThrowIfNull(claims);
        var ranked = claims
            .OrderByDescending(c => c.Priority)
            .ThenByDescending(c => c.CreatedAt)
            .ThenByDescending(c => c.Owner, StringComparer.Ordinal)
            .ToList();
        var owners = new Dictionary<string, DeviceClaim>(StringComparer.Ordinal);
        foreach (var device in fleet)
        {
            if (ranked.FirstOrDefault(c => c.Selects(device)) is { } owner)
            {
                owners[device.Id] = owner;
            }
        }

        return owners;
    }
}
