using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Models;

namespace EdgePlatform.ControlPlane.Host.Console.Pages;

public sealed class ModelsModel(ModelRegistry registry, FleetService fleet) : ConsolePage
{
    public IReadOnlyList<ModelInfo> Models { get; private set; } = [];

    /// <summary>Devices whose primary slot runs each manifest, active.</summary>
    public IReadOnlyDictionary<string, int> Running { get; private set; } = new Dictionary<string, int>();

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        Models = await registry.ListAsync(cancellationToken).ConfigureAwait(false);
        Running = await RunningAsync(fleet, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Counted page by page through the store, so the models page reads the fleet as the fleet page does.</summary>
    internal static async Task<Dictionary<string, int>> RunningAsync(FleetService fleet, CancellationToken cancellationToken, Action<DeviceInfo>? each = null)
    {
        var running = new Dictionary<string, int>(StringComparer.Ordinal);
        string? after = null;
        do
        {
            var page = await fleet.PageAsync(null, after, FleetService.MaxPageSize, cancellationToken).ConfigureAwait(false);
            foreach (var device in page.Devices)
            {
                foreach (var slot in device.Reported?.Slots ?? [])
                {
                    if (slot.State == ModelSlotStates.Active)
                    {
                        running[slot.ManifestDigest] = running.GetValueOrDefault(slot.ManifestDigest) + 1;
                        each?.Invoke(device);
                    }
                }
            }

            after = page.NextAfter;
        }
        while (after is not null);
        return running;
    }
}
