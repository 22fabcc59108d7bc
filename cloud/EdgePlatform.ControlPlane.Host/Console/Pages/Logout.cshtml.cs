using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;

namespace EdgePlatform.ControlPlane.Host.Console.Pages;

public sealed class LogoutModel : ConsolePage
{
    public IActionResult OnGet() => RedirectToPage("/Fleet");

    public async Task<IActionResult> OnPostAsync()
    {
        await HttpContext.SignOutAsync(ConsoleAccess.SchemeName).ConfigureAwait(false);
        return Redirect("/console/login");
    }
}
