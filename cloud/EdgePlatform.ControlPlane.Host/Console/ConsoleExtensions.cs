using EdgePlatform.ControlPlane.Access;
using EdgePlatform.ControlPlane.Host.Hosting;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Host.Console;

public static class ConsoleExtensions
{
    private const string AssetPrefix = "console/";

    /// <summary>
    /// The web console: Razor Pages under <c>/console</c>, signed in with an API token held in a
    /// cookie; pages read through the same services as the API and act under the same permissions.
    /// </summary>
    public static WebApplicationBuilder AddConsole(this WebApplicationBuilder builder, ServerBootstrap bootstrap)
    {
        builder.Services.AddOptions<ConsoleOptions>().BindConfiguration(ConsoleOptions.Section).ValidateDataAnnotations().ValidateOnStart();

        // Cookies and antiforgery tokens stay valid across restarts: the keys that protect them live
        // with the server's other keys rather than in the process.
        builder.Services.AddDataProtection()
            .SetApplicationName("edgeplatform-console")
            .PersistKeysToFileSystem(new DirectoryInfo(Path.Combine(bootstrap.KeyDirectory, "console-keys")));
        builder.Services.AddAuthentication().AddCookie(ConsoleAccess.SchemeName);
        builder.Services.AddOptions<CookieAuthenticationOptions>(ConsoleAccess.SchemeName)
            .Configure<IOptions<ConsoleOptions>>((cookie, options) => ConsoleAccess.ConfigureCookie(cookie, options.Value));
        builder.Services.AddAuthorization(ConsoleAccess.AddPolicies);
        builder.Services.AddAntiforgery(antiforgery =>
        {
            antiforgery.Cookie.Name = ConsoleAccess.CookieName + ".antiforgery";
            antiforgery.Cookie.SameSite = SameSiteMode.Strict;
            antiforgery.Cookie.Path = "/console";
            antiforgery.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        });
        builder.Services.AddRazorPages(pages =>
        {
            pages.RootDirectory = "/Console/Pages";
            pages.Conventions.AuthorizeFolder("/", ConsoleAccess.Policy(Permissions.Read));
            pages.Conventions.AuthorizePage("/Audit", ConsoleAccess.Policy(Permissions.ManageAccess));
            pages.Conventions.AllowAnonymousToPage("/Login");
        });
        builder.Services.AddSingleton<ConsoleLive>();
        return builder;
    }

    public static WebApplication MapConsole(this WebApplication app)
    {
        app.UseWhen(
            context => context.Request.Path.StartsWithSegments("/console", StringComparison.Ordinal),
            console => console.Use((context, next) =>
            {
                // Scripts, styles and charts come from the control plane itself: nothing else may load.
                var headers = context.Response.Headers;
                headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'";
                headers.XContentTypeOptions = "nosniff";
                headers["Referrer-Policy"] = "same-origin";
                return next(context);
            }));
        app.MapGet("/console", () => TypedResults.Redirect("/console/fleet"));
        app.MapGet("/console/assets/{name}", (string name) =>
        {
            var stream = typeof(ConsoleExtensions).Assembly.GetManifestResourceStream(AssetPrefix + name);
            return stream is null
                ? Results.NotFound()
                : Results.Stream(stream, name.EndsWith(".css", StringComparison.Ordinal) ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8");
        });
        app.MapGet("/console/live/{feed}/{id?}", (string feed, string? id, HttpContext context, ConsoleLive live) =>
                TypedResults.ServerSentEvents(live.WatchAsync(feed, id, context.Request.Query, context.RequestServices, context.RequestAborted)))
            .RequireAuthorization(ConsoleAccess.Policy(Permissions.Read));
        app.MapRazorPages();
        return app;
    }
}
