using System.Globalization;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Access;
using EdgePlatform.ControlPlane.Host.Datasets;
using EdgePlatform.ControlPlane.Host.Hosting;

namespace EdgePlatform.ControlPlane.Host.Apis;

/// <summary>
/// Dataset versions under <c>/api/v1/datasets</c>: resumable uploads, registration from an
/// upload, a server path, a SQL query or a blob, cleansing, and the connections sources use.
/// </summary>
public static class DatasetsApi
{
    public static IEndpointRouteBuilder MapDatasetsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1/datasets");
        var read = api.MapGroup(string.Empty).RequireAuthorization(Permissions.Read);
        var train = api.MapGroup(string.Empty).RequireAuthorization(Permissions.Train);

        train.MapPost("/uploads", (DatasetUploads uploads) =>
        {
            var upload = uploads.Start();
            return TypedResults.Created($"/api/v1/datasets/uploads/{upload.Id}", upload);
        });
        train.MapGet("/uploads/{id}", (string id, DatasetUploads uploads) => TypedResults.Ok(uploads.Get(id)));
        train.MapPatch("/uploads/{id}", async (string id, HttpRequest request, DatasetUploads uploads, CancellationToken ct) =>
        {
            RequestLimits.SetBodyLimit(request.HttpContext, uploads.MaxChunkBytes);
            var start = ChunkStart(request.Headers.ContentRange.ToString());
            return TypedResults.Ok(await uploads.AppendAsync(id, start, request.Body, ct).ConfigureAwait(false));
        });
        train.MapDelete("/uploads/{id}", (string id, DatasetUploads uploads) =>
        {
            uploads.Delete(id);
            return TypedResults.NoContent();
        });

        // Declared before /{name}/... so that these names are routes, not dataset names.
        train.MapPost("/connections", async (DatasetConnectionRequest? request, DatasetCatalog catalog, CancellationToken ct) =>
        {
            var connection = await catalog.AddConnectionAsync(request, ct).ConfigureAwait(false);
            return TypedResults.Created($"/api/v1/datasets/connections/{connection.Name}", connection);
        });
        read.MapGet("/connections", async (DatasetCatalog catalog, CancellationToken ct) =>
            TypedResults.Ok(await catalog.ListConnectionsAsync(ct).ConfigureAwait(false)));

        read.MapGet("/catalog", async (DatasetCatalog catalog, CancellationToken ct) =>
            TypedResults.Ok(await catalog.ListAsync(ct).ConfigureAwait(false)));
        train.MapPost("/{name}/versions", async (string name, RegisterDatasetRequest? request, HttpContext context, DatasetCatalog catalog, CancellationToken ct) =>
        {
            var version = await catalog.RegisterAsync(name, request, context.User.Identity?.Name ?? "unknown", ct).ConfigureAwait(false);
            return TypedResults.Created($"/api/v1/datasets/{name}/versions/{version.Version}", version);
        });
        read.MapGet("/{name}/versions", async (string name, DatasetCatalog catalog, CancellationToken ct) =>
            TypedResults.Ok(await catalog.ListVersionsAsync(name, ct).ConfigureAwait(false)));
        read.MapGet("/{name}/versions/{version}", async (string name, string version, DatasetCatalog catalog, CancellationToken ct) =>
            TypedResults.Ok(await catalog.GetAsync(name, version, ct).ConfigureAwait(false)));
        read.MapGet("/{name}/versions/{version}/profile", async (string name, string version, DatasetCatalog catalog, CancellationToken ct) =>
            TypedResults.Ok(await catalog.ProfileAsync(name, version, ct).ConfigureAwait(false)));
        train.MapPost("/{name}/versions/{version}/clean", async (string name, string version, CleanDatasetRequest? request, HttpContext context, DatasetCatalog catalog, CancellationToken ct) =>
        {
            var cleansed = await catalog.CleanAsync(name, version, request, context.User.Identity?.Name ?? "unknown", ct).ConfigureAwait(false);
            return TypedResults.Created($"/api/v1/datasets/{name}/versions/{cleansed.Version}", cleansed);
        });
        return app;
    }

    /// <summary>The first byte of <c>Content-Range: bytes START-END[/TOTAL]</c>; no header means the chunk starts at 0.</summary>
    private static long ChunkStart(string contentRange)
    {
        if (string.IsNullOrWhiteSpace(contentRange))
        {
            return 0;
        }

        var range = contentRange.Trim();
        if (range.StartsWith("bytes", StringComparison.OrdinalIgnoreCase))
        {
            range = range[5..].TrimStart(' ', '=');
        }

        var dash = range.IndexOf('-', StringComparison.Ordinal);
        return dash > 0 && long.TryParse(range[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
            ? start
            : throw new RequestValidationException("Content-Range", $"'{contentRange}' is not 'bytes START-END' (or 'bytes START-END/TOTAL')");
    }
}
