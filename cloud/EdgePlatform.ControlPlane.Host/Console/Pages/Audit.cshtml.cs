using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Access;

namespace EdgePlatform.ControlPlane.Host.Console.Pages;

/// <summary>The audit log, for those who may read it through the API (admins): the page's policy says so.</summary>
public sealed class AuditModel(AccessService access) : ConsolePage
{
    public IReadOnlyList<AuditEntry> Entries { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken cancellationToken) =>
        Entries = await access.ReadAuditAsync(500, cancellationToken).ConfigureAwait(false);
}
