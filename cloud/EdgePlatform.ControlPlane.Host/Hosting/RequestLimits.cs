using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Host.Hosting;

/// <summary>
/// How fast one client address may call the endpoints that answer before any operator token is
/// checked (enrollment, attestation, the registry token endpoint, trust metadata): a token bucket
/// per address, so a burst up to <see cref="BurstPermits"/> passes and the bucket refills at
/// <see cref="PermitsPerSecond"/>. Over it: 429 with <c>Retry-After</c>.
/// </summary>
/// <remarks>
/// Devices behind one NAT, and a fleet simulator, share an address. A device that starts calls
/// about eight of these endpoints (enroll, nonce, attest, a registry token per pull, three trust
/// documents), so the default burst lets 1,000 devices behind one address start or reconnect at
/// once, and the refill serves a 10,000-device start (about 190 s in the benchmarks) as it comes.
/// </remarks>
public sealed class RateLimitOptions
{
    public const string Section = "RateLimits";

    /// <summary>Off, the endpoints take calls as fast as they come. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Calls one address may make at once before it must wait for the refill. Default 10,000.</summary>
    [Range(1, 10_000_000)]
    public int BurstPermits { get; set; } = 10_000;

    /// <summary>Calls per second one address gets back once its burst is spent. Default 500.</summary>
    [Range(1, 1_000_000)]
    public int PermitsPerSecond { get; set; } = 500;
}

public static partial class RequestLimits
{
    /// <summary>The rate-limiting policy of endpoints that take calls without an operator token.</summary>
    public const string Unauthenticated = "unauthenticated";

    /// <summary>
    /// Body size limits (<c>Server:MaxRequestBodyBytes</c>) and the per-address rate limit of
    /// unauthenticated endpoints (<c>RateLimits</c>); refusals are counted and logged.
    /// </summary>
    public static WebApplicationBuilder AddRequestLimits(this WebApplicationBuilder builder)
    {
        builder.Services.TryAddSingleton<LimitMetrics>();
        builder.Services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<KestrelServerOptions>().Configure<IOptions<ServerOptions>>((kestrel, server) =>
            kestrel.Limits.MaxRequestBodySize = server.Value.MaxRequestBodyBytes);
        builder.Services.AddRateLimiter(_ => { });
        builder.Services.AddOptions<RateLimiterOptions>().Configure<IOptions<RateLimitOptions>>((limiter, settings) =>
        {
            var limits = settings.Value;
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.AddPolicy(Unauthenticated, context => limits.Enabled
                ? RateLimitPartition.GetTokenBucketLimiter(
                    context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                    _ => new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = limits.BurstPermits,
                        TokensPerPeriod = limits.PermitsPerSecond,
                        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                        QueueLimit = 0,
                        AutoReplenishment = true,
                    })
                : RateLimitPartition.GetNoLimiter(string.Empty));
            limiter.OnRejected = (rejected, _) =>
            {
                var context = rejected.HttpContext;
                var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
                var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
                context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                context.RequestServices.GetRequiredService<LimitMetrics>().Refused(LimitMetrics.RequestRate);
                LogRateLimited(
                    context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RequestLimits)),
                    context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                    context.Request.Method,
                    context.Request.Path,
                    seconds);
                return ValueTask.CompletedTask;
            };
        });
        return builder;
    }

    /// <summary>
    /// The rate limiter, and problem details for a body refused for its size where nothing else
    /// wrote them: minimal API parameter binding answers 413 with no body of its own.
    /// </summary>
    public static WebApplication UseRequestLimits(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseRateLimiter();
        app.Use(async (context, next) =>
        {
            await next(context).ConfigureAwait(false);
            if (context.Response is { StatusCode: StatusCodes.Status413PayloadTooLarge, HasStarted: false })
            {
                await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = context,
                    ProblemDetails = BodyTooLarge(context),
                }).ConfigureAwait(false);
            }
        });
        return app;
    }

    /// <summary>
    /// Gives this request its own body limit in place of <c>Server:MaxRequestBodyBytes</c>, before
    /// the body is read; <paramref name="maxBytes"/> null leaves the bound to the handler, which
    /// counts what it reads itself.
    /// </summary>
    public static void SetBodyLimit(HttpContext context, long? maxBytes)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = maxBytes;
        }
    }

    /// <summary>Counts and logs a body refused for its size, and says so in problem details for a 413.</summary>
    internal static Microsoft.AspNetCore.Mvc.ProblemDetails BodyTooLarge(HttpContext context)
    {
        context.RequestServices.GetRequiredService<LimitMetrics>().Refused(LimitMetrics.RequestBodySize);
        var limit = context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize;
        LogBodyTooLarge(
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RequestLimits)),
            context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
            context.Request.Method,
            context.Request.Path,
            context.Request.ContentLength,
            limit);
        return new Microsoft.AspNetCore.Mvc.ProblemDetails
        {
            Status = StatusCodes.Status413PayloadTooLarge,
            Title = "The request body is too large",
            Detail = $"this endpoint takes bodies of up to {limit} bytes ({ServerOptions.Section}:{nameof(ServerOptions.MaxRequestBodyBytes)}, or {ServerOptions.Section}:{nameof(ServerOptions.MaxDatasetUploadBytes)} for datasets)",
        };
    }

    [LoggerMessage(EventId = 900, Level = LogLevel.Warning, Message = "{Client} sent {Method} {Path} faster than RateLimits allow; refused with 429, retry after {RetryAfterSeconds} s")]
    private static partial void LogRateLimited(ILogger logger, string client, string method, string path, int retryAfterSeconds);

    [LoggerMessage(EventId = 901, Level = LogLevel.Warning, Message = "{Client} sent {Method} {Path} with a body over its limit ({ContentLength} bytes declared, limit {Limit}); refused with 413")]
    private static partial void LogBodyTooLarge(ILogger logger, string client, string method, string path, long? contentLength, long? limit);
}
