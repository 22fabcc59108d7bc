using EdgePlatform.ControlPlane.Access;
using EdgePlatform.ControlPlane.Host.Hosting;
using EdgePlatform.Contracts;
using Microsoft.AspNetCore.Authentication;

namespace EdgePlatform.ControlPlane.Host.Access;

public static partial class OperatorAccessExtensions
{
    /// <summary>Token authentication, one authorization policy per permission, and the first admin token.</summary>
    public static WebApplicationBuilder AddOperatorAccess(this WebApplicationBuilder builder)
    {
        builder.Services.AddAuthentication(ApiTokenAuthentication.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiTokenAuthentication>(ApiTokenAuthentication.SchemeName, null);
        builder.Services.AddAuthorization(options =>
        {
            foreach (var permission in Permissions.All)
            {
                options.AddPolicy(permission, policy => policy
                    .RequireAuthenticatedUser()
                    .RequireAssertion(context => OperatorRoles.Allows(context.User.FindFirst(ApiTokenAuthentication.RoleClaim)?.Value, permission)));
            }
        });
        builder.Services.AddHostedService<InitialAdminToken>();
        return builder;
    }

    /// <summary>
    /// Writes every mutating call and every refused call to the audit log: who (the token's
    /// name, or anonymous), what (method and path), when, and the status it ended with. A
    /// manifest pushed to the registry publishes as surely as a training run does, so it is
    /// written too, under the subject of the registry token that pushed it; blob uploads (a push's
    /// many chunks) and pulls (every device's) are not, nor the 401 that starts every token exchange.
    /// </summary>
    public static WebApplication UseAuditLog(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            await next(context).ConfigureAwait(false);
            var path = context.Request.Path;
            var mutating = !HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method);
            var refused = context.Response.StatusCode is StatusCodes.Status401Unauthorized or StatusCodes.Status403Forbidden;

            // Routine device traffic (attestation every few minutes per device) would drown the
            // operators' record; its refusals are still written.
            var deviceRoutine = path.StartsWithSegments("/api/v1/attestation", StringComparison.Ordinal);
            string? actor = null;
            // The console's sign-in writes its own line (the name is known only once it succeeded).
            var console = path.StartsWithSegments("/console", StringComparison.Ordinal) && !path.StartsWithSegments("/console/login", StringComparison.Ordinal);
            if ((path.StartsWithSegments("/api/v1", StringComparison.Ordinal) || console) && ((mutating && !deviceRoutine) || refused))
            {
                actor = context.User.Identity?.IsAuthenticated == true ? context.User.Identity.Name ?? "unknown" : "anonymous";
            }
            else if (IsManifestPush(context.Request) && context.Response.StatusCode is not StatusCodes.Status401Unauthorized)
            {
                var registry = context.RequestServices.GetRequiredService<RegistryTokenService>();
                actor = registry.SubjectOf(Apis.AttestationApi.Credential(context.Request.Headers.Authorization)) ?? "anonymous";
            }

            if (actor is not null)
            {
                var access = context.RequestServices.GetRequiredService<AccessService>();
                // A console action is a page's handler: its name says what was done.
                var handler = console && context.Request.Query["handler"] is { Count: > 0 } named ? $"?handler={named}" : string.Empty;
                await access.AuditAsync(actor, $"{context.Request.Method} {path}{handler}", context.Response.StatusCode, CancellationToken.None).ConfigureAwait(false);
            }
        });
        return app;
    }

    private static bool IsManifestPush(HttpRequest request) =>
        (HttpMethods.IsPut(request.Method) || HttpMethods.IsDelete(request.Method))
        && request.Path.StartsWithSegments("/v2", StringComparison.Ordinal)
        && request.Path.Value!.Contains("/manifests/", StringComparison.Ordinal);

    public static IEndpointRouteBuilder MapAccessApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1");
        api.MapGet("/whoami", async (HttpContext context, AccessService access, CancellationToken ct) =>
            TypedResults.Ok(new WhoAmI(
                context.User.Identity!.Name!,
                context.User.FindFirst(ApiTokenAuthentication.RoleClaim)!.Value,
                context.User.FindFirst(ApiTokenAuthentication.TokenIdClaim)!.Value)))
            .RequireAuthorization(Permissions.Read);
        api.MapPost("/tokens", async (CreateTokenRequest? request, HttpContext context, AccessService access, CancellationToken ct) =>
            TypedResults.Ok(await access.CreateAsync(request, context.User.Identity!.Name!, ct).ConfigureAwait(false)))
            .RequireAuthorization(Permissions.ManageAccess);
        api.MapGet("/tokens", async (AccessService access, CancellationToken ct) =>
            TypedResults.Ok(await access.ListAsync(ct).ConfigureAwait(false)))
            .RequireAuthorization(Permissions.ManageAccess);
        api.MapDelete("/tokens/{id}", async (string id, HttpContext context, AccessService access, CancellationToken ct) =>
        {
            await access.RevokeAsync(id, context.User.Identity!.Name!, ct).ConfigureAwait(false);
            return TypedResults.NoContent();
        }).RequireAuthorization(Permissions.ManageAccess);
        api.MapGet("/audit", async (int? limit, AccessService access, CancellationToken ct) =>
            TypedResults.Ok(await access.ReadAuditAsync(limit ?? 100, ct).ConfigureAwait(false)))
            .RequireAuthorization(Permissions.ManageAccess);
        return app;
    }

    /// <summary>
    /// On first start there is no token: create an admin token and write it to a file only its
    /// owner can read (<c>Server:InitialAdminTokenFile</c>, by default in the data directory). Logs
    /// are copied, shipped and kept, so the token itself never goes there, only where it is.
    /// </summary>
    private sealed partial class InitialAdminToken(AccessService access, ServerBootstrap bootstrap, ILogger<InitialAdminToken> logger) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            var created = await access.CreateInitialAdminAsync(cancellationToken).ConfigureAwait(false);
            if (created is null)
            {
                return;
            }

            var file = bootstrap.Options.InitialAdminTokenFile is { Length: > 0 } configured
                ? configured
                : Path.Combine(bootstrap.DataDirectory, ServerBootstrap.InitialAdminTokenFileName);

            // A file already there may be readable by others; writing into it would keep its
            // permissions, so it is removed and the token goes into a new file made 0600.
            File.Delete(file);
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite };
            await using (var writer = new StreamWriter(new FileStream(file, options)))
            {
                await writer.WriteAsync(created.Token).ConfigureAwait(false);
            }

            LogWritten(file);
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        [LoggerMessage(EventId = 811, Level = LogLevel.Warning, Message = "First start: the initial admin token is in {File} (mode 0600), readable only by this user; run edgectl login --token \"$(cat {File})\", create personal tokens with edgectl tokens create, then delete the file")]
        private partial void LogWritten(string file);
    }
}
