using System.Security.Claims;
using EdgePlatform.ControlPlane.Access;
using EdgePlatform.ControlPlane.Host.Access;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;

namespace EdgePlatform.ControlPlane.Host.Console;

/// <summary>
/// A console session is an API token held in an encrypted cookie: the principal it yields has the
/// same name, role and token id claims as the bearer scheme's, and the token is checked again on
/// every request, so revoking it ends the session at once.
/// </summary>
public static class ConsoleAccess
{
    public const string SchemeName = "ConsoleCookie";
    public const string CookieName = "edgeplatform.console";
    private const string TokenClaim = "edgeplatform/console-token";

    /// <summary>The console's policy for a permission: the API's rule, over the console's cookie.</summary>
    public static string Policy(string permission) => "console:" + permission;

    public static void AddPolicies(Microsoft.AspNetCore.Authorization.AuthorizationOptions options)
    {
        foreach (var permission in Permissions.All)
        {
            options.AddPolicy(Policy(permission), policy => policy
                .AddAuthenticationSchemes(SchemeName)
                .RequireAuthenticatedUser()
                .RequireAssertion(context => OperatorRoles.Allows(context.User.FindFirst(ApiTokenAuthentication.RoleClaim)?.Value, permission)));
        }
    }

    public static void ConfigureCookie(CookieAuthenticationOptions cookie, ConsoleOptions options)
    {
        cookie.Cookie.Name = CookieName;
        cookie.Cookie.HttpOnly = true;
        cookie.Cookie.SameSite = SameSiteMode.Strict;
        cookie.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        cookie.Cookie.Path = "/console";
        cookie.ExpireTimeSpan = TimeSpan.FromMinutes(options.SessionMinutes);
        cookie.SlidingExpiration = true;
        cookie.LoginPath = "/console/login";
        cookie.LogoutPath = "/console/logout";
        cookie.Events.OnValidatePrincipal = ValidateAsync;

        // Refused outright rather than redirected, so that the audit log records the 403 as it does the API's.
        cookie.Events.OnRedirectToAccessDenied = context =>
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            context.Response.ContentType = "text/plain; charset=utf-8";
            return context.Response.WriteAsync(
                $"Forbidden: role '{context.HttpContext.User.FindFirst(ApiTokenAuthentication.RoleClaim)?.Value}' may not do this.",
                context.HttpContext.RequestAborted);
        };
    }

    /// <summary>The principal a token signs in as, with the token kept for the checks on later requests.</summary>
    public static ClaimsPrincipal Principal(EdgePlatform.Contracts.WhoAmI identity, string token) =>
        new(new ClaimsIdentity(
            [
                new Claim(ClaimTypes.Name, identity.Name),
                new Claim(ApiTokenAuthentication.RoleClaim, identity.Role),
                new Claim(ApiTokenAuthentication.TokenIdClaim, identity.TokenId),
                new Claim(TokenClaim, token),
            ],
            SchemeName));

    private static async Task ValidateAsync(CookieValidatePrincipalContext context)
    {
        var token = context.Principal?.FindFirst(TokenClaim)?.Value;
        var access = context.HttpContext.RequestServices.GetRequiredService<AccessService>();
        var identity = await access.AuthenticateAsync(token, context.HttpContext.RequestAborted).ConfigureAwait(false);
        if (identity is null)
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(SchemeName).ConfigureAwait(false);
        }
    }
}
