using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Datasets;

namespace EdgePlatform.ControlPlane.Host.Console.Pages;

public sealed class DatasetsModel(DatasetCatalog catalog) : ConsolePage
{
    public IReadOnlyList<DatasetSummary> Datasets { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken cancellationToken) =>
        Datasets = await catalog.ListAsync(cancellationToken).ConfigureAwait(false);
}
