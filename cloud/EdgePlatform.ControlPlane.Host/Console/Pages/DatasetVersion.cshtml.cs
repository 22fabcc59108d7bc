using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Datasets;
using Microsoft.AspNetCore.Mvc;

namespace EdgePlatform.ControlPlane.Host.Console.Pages;

public sealed class DatasetVersionModel(DatasetCatalog catalog) : ConsolePage
{
    [BindProperty(SupportsGet = true)]
    public string Name { get; set; } = string.Empty;

    [BindProperty(SupportsGet = true)]
    public string Version { get; set; } = string.Empty;

    public DatasetProfile Profile { get; private set; } = null!;

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken)
    {
        try
        {
            Profile = await catalog.ProfileAsync(Name, Version, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return NotFound();
        }

        return Page();
    }
}
