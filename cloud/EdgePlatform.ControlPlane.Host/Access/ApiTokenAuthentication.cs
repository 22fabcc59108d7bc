using System.Security.Claims;
using System.Text.Encodings.Web;
using EdgePlatform.ControlPlane.Access;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Host.Access;

/// <summary>Authenticates <c>Authorization: Bearer ept_…</c> operator tokens.</summary>
public sealed class ApiTokenAuthentication(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    AccessService access) : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    public const string SchemeName = "ApiToken";
    public const string RoleClaim = "edgeplatform/role";
    public const string TokenIdClaim = "edgeplatform/token";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(header))
        {
            return AuthenticateResult.NoResult();
        }

        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.Fail("the Authorization header must be 'Bearer <token>'");
        }

        var identity = await access.AuthenticateAsync(header["Bearer ".Length..].Trim(), Context.RequestAborted).ConfigureAwait(false);
        if (identity is null)
        {
            return AuthenticateResult.Fail("the token is unknown or revoked");
        }

        var principal = new ClaimsPrincipal(new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, identity.Name), new Claim(RoleClaim, identity.Role), new Claim(TokenIdClaim, identity.TokenId)],
            SchemeName));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties) =>
        WriteProblemAsync(StatusCodes.Status401Unauthorized, "Authentication required", "send 'Authorization: Bearer <token>' with a valid, unrevoked token (edgectl login)");

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        WriteProblemAsync(StatusCodes.Status403Forbidden, "Forbidden", $"role '{Context.User.FindFirst(RoleClaim)?.Value}' may not do this");

    private Task WriteProblemAsync(int status, string title, string detail)
    {
        Response.StatusCode = status;
        return Results.Problem(detail, statusCode: status, title: title).ExecuteAsync(Context);
    }
}
