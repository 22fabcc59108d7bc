using EdgePlatform.ControlPlane.Access;
using EdgePlatform.ControlPlane.Host.Access;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace EdgePlatform.ControlPlane.Host.Console;

/// <summary>
/// What every console page shares: who is signed in, what their role allows (a page shows an
/// action only to those who may take it), and actions that check the same permission the API
/// checks before calling the same service, then come back to the page (post, redirect, get).
/// </summary>
public abstract class ConsolePage : PageModel
{
    [TempData]
    public string? Notice { get; set; }

    [TempData]
    public string? Problem { get; set; }

    /// <summary>The live feed (<c>/console/live/...</c>) whose changes refresh this page's live regions; null for a still page.</summary>
    public string? LiveFeed { get; protected set; }

    public string Role => User.FindFirst(ApiTokenAuthentication.RoleClaim)?.Value ?? string.Empty;

    protected string Actor => User.Identity?.Name ?? "unknown";

    public bool Can(string permission) => OperatorRoles.Allows(Role, permission);

    /// <summary>Runs an action the role must hold <paramref name="permission"/> for; a refusal of the service's is shown on the page.</summary>
    protected async Task<IActionResult> ActAsync(string permission, string done, Func<Task> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (!Can(permission))
        {
            return Forbid(ConsoleAccess.SchemeName);
        }

        try
        {
            await action().ConfigureAwait(false);
            Notice = done;
        }
        catch (ControlPlaneException ex)
        {
            Problem = ex.Message;
        }

        return RedirectToPage();
    }
}
