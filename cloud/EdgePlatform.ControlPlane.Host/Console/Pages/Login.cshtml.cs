using EdgePlatform.ControlPlane.Access;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;

namespace EdgePlatform.ControlPlane.Host.Console.Pages;

public sealed class LoginModel(AccessService access) : ConsolePage
{
    [BindProperty(SupportsGet = true)]
    public string? ReturnUrl { get; set; }

    public bool Refused { get; private set; }

    public void OnGet()
    {
    }

    public async Task<IActionResult> OnPostAsync([FromForm] string? token, CancellationToken cancellationToken)
    {
        var identity = await access.AuthenticateAsync(token?.Trim(), cancellationToken).ConfigureAwait(false);
        if (identity is null)
        {
            Refused = true;
            await access.AuditAsync("anonymous", "POST /console/login", StatusCodes.Status401Unauthorized, cancellationToken).ConfigureAwait(false);
            Response.StatusCode = StatusCodes.Status401Unauthorized;
            return Page();
        }

        await HttpContext.SignInAsync(ConsoleAccess.SchemeName, ConsoleAccess.Principal(identity, token!.Trim())).ConfigureAwait(false);
        await access.AuditAsync(identity.Name, "POST /console/login", StatusCodes.Status200OK, cancellationToken).ConfigureAwait(false);

        // Only a path inside the console: a link that sends people elsewhere after signing in is a phishing aid.
        return LocalRedirect(ReturnUrl is { } url && url.StartsWith("/console/", StringComparison.Ordinal) && !url.StartsWith("/console//", StringComparison.Ordinal)
            ? url
            : "/console/fleet");
    }
}
