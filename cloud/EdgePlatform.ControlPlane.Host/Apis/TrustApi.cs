using EdgePlatform.ControlPlane.Access;
using EdgePlatform.ControlPlane.Host.Hosting;
using EdgePlatform.ControlPlane.Host.Trust;

namespace EdgePlatform.ControlPlane.Host.Apis;

/// <summary>
/// Signed metadata for devices and release tooling: root versions, targets, timestamp, served
/// byte for byte as stored; rotated roots and offline-signed targets are accepted only when
/// they verify.
/// </summary>
public static class TrustApi
{
    private const string Json = "application/json";

    public static IEndpointRouteBuilder MapTrustApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/trust");
        var manage = api.MapGroup(string.Empty).RequireAuthorization(Permissions.ManageTrust);
        var anonymous = api.MapGroup(string.Empty).RequireRateLimiting(RequestLimits.Unauthenticated);
        anonymous.MapGet("/root", (TufTrustPublisher trust) => Results.Bytes(trust.Repository.RootBytes(trust.Repository.RootVersion)!, Json));
        anonymous.MapGet("/root/{version:long}", (long version, TufTrustPublisher trust) =>
            trust.Repository.RootBytes(version) is { } bytes
                ? Results.Bytes(bytes, Json)
                : throw new NotFoundException($"there is no root version {version}"));
        anonymous.MapGet("/targets", (TufTrustPublisher trust) => Results.Bytes(trust.Repository.TargetsBytes!, Json));
        anonymous.MapGet("/timestamp", (TufTrustPublisher trust) => Results.Bytes(trust.Repository.TimestampBytes!, Json));
        manage.MapPut("/root", async (HttpRequest request, TufTrustPublisher trust, CancellationToken ct) =>
        {
            var document = await ReadBodyAsync(request, ct).ConfigureAwait(false);
            var root = await trust.ChangeAsync(repository => repository.AddRoot(document), ct).ConfigureAwait(false);
            return TypedResults.Ok(new Dictionary<string, long> { ["version"] = root.Version });
        });
        manage.MapPut("/targets", async (HttpRequest request, TufTrustPublisher trust, CancellationToken ct) =>
        {
            var document = await ReadBodyAsync(request, ct).ConfigureAwait(false);
            var targets = await trust.ChangeAsync(repository => repository.PublishTargets(document), ct).ConfigureAwait(false);
            return TypedResults.Ok(new Dictionary<string, long> { ["version"] = targets.Version });
        });
        return app;
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, CancellationToken ct)
    {
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body, ct).ConfigureAwait(false);
        return body.Length > 0 ? body.ToArray() : throw new RequestValidationException("body", "send a signed metadata document");
    }
}
