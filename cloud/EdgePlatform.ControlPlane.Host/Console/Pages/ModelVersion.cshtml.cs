using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Models;
using Microsoft.AspNetCore.Mvc;

namespace EdgePlatform.ControlPlane.Host.Console.Pages;

public sealed class ModelVersionModel(ModelRegistry registry, FleetService fleet) : ConsolePage
{
    public const int MaxDevicesListed = 200;

    [BindProperty(SupportsGet = true)]
    public string Name { get; set; } = string.Empty;

    [BindProperty(SupportsGet = true)]
    public string Version { get; set; } = string.Empty;

    public ModelRecord Record { get; private set; } = null!;

    public ModelCard Card { get; private set; } = null!;

    public IReadOnlyList<string> Devices { get; private set; } = [];

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken)
    {
        try
        {
            Record = await registry.ResolveAsync($"{Name}:{Version}", cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return NotFound();
        }

        Card = await registry.ReadCardAsync(Record, cancellationToken).ConfigureAwait(false);
        var devices = new List<string>();
        await ModelsModel.RunningAsync(fleet, cancellationToken, device =>
        {
            if (devices.Count < MaxDevicesListed && device.Reported!.Slots.Any(s => s.ManifestDigest == Record.ManifestDigest && s.State == ModelSlotStates.Active))
            {
                devices.Add(device.Id);
            }
        }).ConfigureAwait(false);
        Devices = [.. devices.Distinct(StringComparer.Ordinal)];
        return Page();
    }
}
