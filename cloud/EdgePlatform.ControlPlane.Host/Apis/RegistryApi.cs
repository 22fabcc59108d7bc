using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Net.Http.Headers;

namespace EdgePlatform.ControlPlane.Host.Apis;

/// <summary>
/// The pull side of the OCI distribution API for model packages: manifests by digest or tag
/// (a model version), blobs by digest, with HEAD and Range.
/// </summary>
public static class RegistryApi
{
    private const string DigestHeader = "Docker-Content-Digest";

    public static IEndpointRouteBuilder MapRegistryApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v2/", (HttpContext context) =>
        {
            context.Response.Headers["Docker-Distribution-API-Version"] = "registry/2.0";
            return Results.Json(new Dictionary<string, string>(), ContractsJsonContext.Default.DictionaryStringString);
        });
        app.MapMethods("/v2/{**path}", [HttpMethods.Get, HttpMethods.Head], ServeAsync);
        return app;
    }

    private static async Task<IResult> ServeAsync(
        string path,
        HttpContext context,
        IModelStore models,
        IArtifactStore artifacts,
        CancellationToken cancellationToken)
    {
        if (TrySplit(path, "/manifests/", out var repository, out var reference))
        {
            var model = ContentDigest.IsValid(reference)
                ? await models.FindModelByDigestAsync(repository, reference, cancellationToken).ConfigureAwait(false)
                : await FindByTagAsync(models, repository, reference, cancellationToken).ConfigureAwait(false);
            return model is null
                ? RegistryError(StatusCodes.Status404NotFound, "MANIFEST_UNKNOWN", $"manifest '{reference}' is not in repository '{repository}'")
                : await ServeBlobAsync(context, artifacts, model.ManifestDigest, MediaTypes.OciManifest, cancellationToken).ConfigureAwait(false);
        }

        if (TrySplit(path, "/blobs/", out repository, out var digest))
        {
            if (!ContentDigest.IsValid(digest))
            {
                return RegistryError(StatusCodes.Status400BadRequest, "DIGEST_INVALID", $"'{digest}' is not a sha256 digest");
            }

            return await ServeBlobAsync(context, artifacts, digest, "application/octet-stream", cancellationToken).ConfigureAwait(false);
        }

        return RegistryError(StatusCodes.Status404NotFound, "NAME_UNKNOWN", $"no registry route for '/v2/{path}'");
    }

    private static async Task<ModelRecord?> FindByTagAsync(IModelStore models, string repository, string tag, CancellationToken cancellationToken)
    {
        const string prefix = "models/";
        return repository.StartsWith(prefix, StringComparison.Ordinal)
            ? await models.FindModelAsync(repository[prefix.Length..], tag, cancellationToken).ConfigureAwait(false)
            : null;
    }

    private static async Task<IResult> ServeBlobAsync(HttpContext context, IArtifactStore artifacts, string digest, string contentType, CancellationToken cancellationToken)
    {
        var stream = await artifacts.OpenReadAsync(digest, cancellationToken).ConfigureAwait(false);
        if (stream is null)
        {
            return RegistryError(StatusCodes.Status404NotFound, "BLOB_UNKNOWN", $"blob '{digest}' is not stored");
        }

        context.Response.Headers[DigestHeader] = digest;
        return Results.Stream(stream, contentType, entityTag: new EntityTagHeaderValue($"\"{digest}\""), enableRangeProcessing: true);
    }

    private static bool TrySplit(string path, string marker, out string repository, out string reference)
    {
        var index = path.LastIndexOf(marker, StringComparison.Ordinal);
        if (index <= 0)
        {
            repository = reference = string.Empty;
            return false;
        }

        repository = path[..index];
        reference = path[(index + marker.Length)..];
        return reference.Length > 0;
    }

    private static IResult RegistryError(int status, string code, string message) =>
        Results.Json(
            new RegistryErrors([new RegistryErrorEntry(code, message)]),
            RegistryJsonContext.Default.RegistryErrors,
            statusCode: status);
}

internal sealed record RegistryErrors(IReadOnlyList<RegistryErrorEntry> Errors);

internal sealed record RegistryErrorEntry(string Code, string Message);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web)]
[System.Text.Json.Serialization.JsonSerializable(typeof(RegistryErrors))]
internal sealed partial class RegistryJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
