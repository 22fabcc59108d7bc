using EdgePlatform.ControlPlane.Access;
using EdgePlatform.ControlPlane.Host.Telemetry;
using EdgePlatform.ControlPlane.Telemetry;

namespace EdgePlatform.ControlPlane.Host.Apis;

public static class TelemetryApi
{
    public static IEndpointRouteBuilder MapTelemetryApi(this IEndpointRouteBuilder app)
    {
        var read = app.MapGroup("/api/v1/telemetry").RequireAuthorization(Permissions.Read);

        // Time series: per-minute rollups by default, raw reports within the retention window on request.
        // The filters bind from the query string: device, group, model, version, from, to, resolution, limit.
        read.MapGet(string.Empty, async ([AsParameters] TelemetryQuery filter, TelemetryQueryService query, CancellationToken ct) =>
            TypedResults.Ok(await query.QueryAsync(filter, ct).ConfigureAwait(false)));
        read.MapGet("/export", async (
            string? format,
            [AsParameters] TelemetryQuery filter,
            HttpContext context,
            TelemetryQueryService query,
            CancellationToken ct) =>
        {
            if (format is not (null or "parquet"))
            {
                throw new RequestValidationException("format", $"'{format}' is not supported; use 'parquet'");
            }

            var result = await query.QueryAsync(filter with { Resolution = filter.Resolution ?? TelemetryQueryService.Raw }, ct).ConfigureAwait(false);
            context.Response.ContentType = TelemetryParquetExport.MediaType;
            context.Response.Headers.ContentDisposition = $"attachment; filename=\"telemetry-{result.Resolution}.parquet\"";

            // The serializer writes synchronously in places; buffer, then send.
            using var buffer = new MemoryStream();
            await TelemetryParquetExport.WriteAsync(result, buffer, ct).ConfigureAwait(false);
            buffer.Position = 0;
            await buffer.CopyToAsync(context.Response.Body, ct).ConfigureAwait(false);
        });
        read.MapGet("/summary", async (string? device, TelemetryIngestService telemetry, CancellationToken ct) =>
            TypedResults.Ok(await telemetry.SummarizeAsync(device, ct).ConfigureAwait(false)));
        read.MapGet("/ingest", async (TelemetryIngestService telemetry, CancellationToken ct) =>
            TypedResults.Ok(await telemetry.GetStatsAsync(ct).ConfigureAwait(false)));
        return app;
    }
}
