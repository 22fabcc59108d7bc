using EdgePlatform.ControlPlane.Access;
using EdgePlatform.ControlPlane.Telemetry;

namespace EdgePlatform.ControlPlane.Host.Apis;

public static class TelemetryApi
{
    public static IEndpointRouteBuilder MapTelemetryApi(this IEndpointRouteBuilder app)
    {
        var read = app.MapGroup("/api/v1/telemetry").RequireAuthorization(Permissions.Read);

        // Time series: per-minute rollups by default, raw reports within the retention window on request.
        read.MapGet(string.Empty, async (
            string? device,
            string? group,
            string? model,
            string? version,
            DateTimeOffset? from,
            DateTimeOffset? to,
            string? resolution,
            int? limit,
            TelemetryQueryService query,
            CancellationToken ct) =>
            TypedResults.Ok(await query.QueryAsync(new TelemetryQuery(device, group, model, version, from, to, resolution, limit), ct).ConfigureAwait(false)));
        read.MapGet("/summary", async (string? device, TelemetryIngestService telemetry, CancellationToken ct) =>
            TypedResults.Ok(await telemetry.SummarizeAsync(device, ct).ConfigureAwait(false)));
        read.MapGet("/ingest", async (TelemetryIngestService telemetry, CancellationToken ct) =>
            TypedResults.Ok(await telemetry.GetStatsAsync(ct).ConfigureAwait(false)));
        return app;
    }
}
