using System.Net.Http.Headers;
using System.Text;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Access;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Host.Hosting;
using Microsoft.Extensions.Primitives;

namespace EdgePlatform.ControlPlane.Host.Apis;

/// <summary>
/// Device attestation and registry token authentication. These calls carry their own proof (a
/// device signature, an attestation token, an API token), so they sit outside the operator
/// bearer-token policy.
/// </summary>
public static class AttestationApi
{
    public static IEndpointRouteBuilder MapAttestationApi(this IEndpointRouteBuilder app)
    {
        // Answered before any operator token is checked: limited per client address.
        var api = app.MapGroup("/api/v1").RequireRateLimiting(RequestLimits.Unauthenticated);
        api.MapPost("/attestation/nonce", async (AttestationNonceRequest? request, AttestationService attestation, CancellationToken ct) =>
            TypedResults.Ok(await attestation.IssueNonceAsync(request, ct).ConfigureAwait(false)));
        api.MapPost("/attestation", async (AttestationRequest? request, AttestationService attestation, CancellationToken ct) =>
            TypedResults.Ok(await attestation.AttestAsync(request, ct).ConfigureAwait(false)));

        // The distribution registry's token endpoint: GET with service and scope parameters, the
        // credential as a bearer token or as the password of HTTP basic authentication.
        api.MapGet("/registry/token", async (HttpContext context, RegistryTokenService tokens, CancellationToken ct) =>
        {
            var query = context.Request.Query;
            var scopes = query["scope"].SelectMany(s => (s ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
            return TypedResults.Ok(await tokens.IssueAsync(Credential(context.Request.Headers.Authorization), query["service"], scopes, ct).ConfigureAwait(false));
        });
        return app;
    }

    /// <summary>The token in <c>Authorization: Bearer …</c>, or the password in <c>Authorization: Basic …</c>.</summary>
    internal static string? Credential(StringValues authorization)
    {
        if (!AuthenticationHeaderValue.TryParse(authorization.ToString(), out var header) || header.Parameter is null)
        {
            return null;
        }

        if (string.Equals(header.Scheme, "Bearer", StringComparison.OrdinalIgnoreCase))
        {
            return header.Parameter;
        }

        if (!string.Equals(header.Scheme, "Basic", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        try
        {
            var pair = Encoding.UTF8.GetString(Convert.FromBase64String(header.Parameter));
            var colon = pair.IndexOf(':', StringComparison.Ordinal);
            return colon < 0 ? null : pair[(colon + 1)..];
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
