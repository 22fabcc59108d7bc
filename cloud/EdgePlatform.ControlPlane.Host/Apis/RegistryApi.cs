using System.Globalization;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Access;
using EdgePlatform.ControlPlane.Host.Hosting;
using EdgePlatform.ControlPlane.Host.Registry;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace EdgePlatform.ControlPlane.Host.Apis;

/// <summary>
/// The OCI distribution API (v1.1) for model packages. Pull: manifests by digest or tag (a pushed
/// tag or a model version), blobs by digest, with HEAD and Range, tag lists. Push: blob uploads
/// (monolithic and chunked, staged on disk and verified against their digest) and manifests whose
/// blobs are all present. Push needs <see cref="EmbeddedRegistryExtensions.AddEmbeddedRegistry"/>;
/// without it the server only serves what it published itself.
/// </summary>
public static partial class RegistryApi
{
    private const string DigestHeader = "Docker-Content-Digest";
    private const string UploadUuidHeader = "Docker-Upload-UUID";
    private const string ModelRepositoryPrefix = "models/";

    public static IEndpointRouteBuilder MapRegistryApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v2/", (HttpContext context, RegistryTokenService tokens, ServerBootstrap bootstrap) =>
        {
            context.Response.Headers["Docker-Distribution-API-Version"] = "registry/2.0";
            var token = AttestationApi.Credential(context.Request.Headers.Authorization);
            return tokens.Authenticated(token)
                ? Results.Json(new Dictionary<string, string>(), ContractsJsonContext.Default.DictionaryStringString)
                : Challenge(context, tokens, bootstrap, null, "a registry token is required");
        });
        app.MapMethods("/v2/{**path}", [HttpMethods.Get, HttpMethods.Head], ServeAsync);
        app.MapMethods("/v2/{**path}", [HttpMethods.Post, HttpMethods.Patch, HttpMethods.Put, HttpMethods.Delete], ReceiveAsync);
        return app;
    }

    private static async Task<IResult> ServeAsync(
        string path,
        HttpContext context,
        IModelStore models,
        IArtifactStore artifacts,
        [FromServices] IRegistryManifestIndex? index,
        [FromServices] BlobUploads? uploads,
        [FromServices] RegistryMetrics? metrics,
        [FromServices] RepositoryBlobs? repositoryBlobs,
        CancellationToken cancellationToken)
    {
        var route = RegistryRoute.Parse(path);
        if (await RefusedAsync(context, route, RegistryTokenService.Pull, cancellationToken).ConfigureAwait(false) is { } refused)
        {
            return refused;
        }

        try
        {
            return route.Kind switch
            {
                RouteKind.Manifest => await ServeManifestAsync(context, models, artifacts, index, metrics, route.Repository, route.Reference, cancellationToken).ConfigureAwait(false),
                RouteKind.Blob when !ContentDigest.IsValid(route.Reference) =>
                    RegistryError(StatusCodes.Status400BadRequest, "DIGEST_INVALID", $"'{route.Reference}' is not a sha256 digest"),
                RouteKind.Blob when repositoryBlobs is not null && !await repositoryBlobs.HoldsAsync(route.Repository, route.Reference, cancellationToken).ConfigureAwait(false) =>
                    RegistryError(StatusCodes.Status404NotFound, "BLOB_UNKNOWN", $"blob '{route.Reference}' is not in repository '{route.Repository}'"),
                RouteKind.Blob => await ServeBlobAsync(context, artifacts, metrics, RegistryMetrics.Blob, route.Repository, route.Reference, "application/octet-stream", cancellationToken).ConfigureAwait(false),
                RouteKind.Tags => await ListTagsAsync(context, models, index, route.Repository, cancellationToken).ConfigureAwait(false),
                RouteKind.Upload when uploads is not null => UploadStatus(context, FindUpload(uploads, route)),
                _ => RegistryError(StatusCodes.Status404NotFound, "NAME_UNKNOWN", $"no registry route for '/v2/{path}'"),
            };
        }
        catch (RegistryErrorException e)
        {
            return RegistryError(context, e);
        }
    }

    private static async Task<IResult> ReceiveAsync(
        string path,
        HttpContext context,
        IModelStore models,
        IArtifactStore artifacts,
        [FromServices] IRegistryManifestIndex? index,
        [FromServices] BlobUploads? uploads,
        IOptions<RegistryOptions> options,
        TimeProvider timeProvider,
        ILoggerFactory loggerFactory,
        CancellationToken cancellationToken)
    {
        if (index is null || uploads is null)
        {
            return RegistryError(StatusCodes.Status405MethodNotAllowed, "UNSUPPORTED", "this server does not accept pushes: its registry serves only the models it publishes");
        }

        var route = RegistryRoute.Parse(path);
        if (route.Kind != RouteKind.None && !RegistryNames.IsValidRepository(route.Repository))
        {
            return RegistryError(
                StatusCodes.Status400BadRequest,
                "NAME_INVALID",
                $"'{route.Repository}' is not a repository name: lowercase letters and digits in path components separated by '/', with '.', '_', '__' or '-' between them");
        }

        if (await RefusedAsync(context, route, RegistryTokenService.Push, cancellationToken).ConfigureAwait(false) is { } refused)
        {
            return refused;
        }

        var method = context.Request.Method;
        try
        {
            return (route.Kind, method) switch
            {
                (RouteKind.UploadStart, "POST") => await StartUploadAsync(context, uploads, index, route.Repository, cancellationToken).ConfigureAwait(false),
                (RouteKind.Upload, "PATCH") => await AppendChunkAsync(context, uploads, FindUpload(uploads, route), cancellationToken).ConfigureAwait(false),
                (RouteKind.Upload, "PUT") => await CompleteUploadAsync(context, uploads, index, FindUpload(uploads, route), cancellationToken).ConfigureAwait(false),
                (RouteKind.Upload, "DELETE") => await CancelUploadAsync(uploads, FindUpload(uploads, route), cancellationToken).ConfigureAwait(false),
                (RouteKind.Manifest, "PUT") => await PutManifestAsync(
                    context, models, artifacts, index, options.Value, timeProvider, loggerFactory.CreateLogger(typeof(RegistryApi)), route.Repository, route.Reference, cancellationToken).ConfigureAwait(false),
                (RouteKind.None, _) => RegistryError(StatusCodes.Status404NotFound, "NAME_UNKNOWN", $"no registry route for '/v2/{path}'"),
                _ => RegistryError(StatusCodes.Status405MethodNotAllowed, "UNSUPPORTED", $"{method} is not supported on '/v2/{path}'"),
            };
        }
        catch (RegistryErrorException e)
        {
            return RegistryError(context, e);
        }
    }

    private static async Task<IResult> ServeManifestAsync(
        HttpContext context,
        IModelStore models,
        IArtifactStore artifacts,
        IRegistryManifestIndex? index,
        RegistryMetrics? metrics,
        string repository,
        string reference,
        CancellationToken cancellationToken)
    {
        var isDigest = ContentDigest.IsValid(reference);
        var model = isDigest
            ? await models.FindModelByDigestAsync(repository, reference, cancellationToken).ConfigureAwait(false)
            : await FindModelVersionAsync(models, repository, reference, cancellationToken).ConfigureAwait(false);
        if (model is not null)
        {
            return await ServeBlobAsync(context, artifacts, metrics, RegistryMetrics.Manifest, repository, model.ManifestDigest, MediaTypes.OciManifest, cancellationToken).ConfigureAwait(false);
        }

        var pushed = index is null
            ? null
            : isDigest
                ? await index.FindByDigestAsync(repository, reference, cancellationToken).ConfigureAwait(false)
                : await index.FindByTagAsync(repository, reference, cancellationToken).ConfigureAwait(false);
        return pushed is null
            ? RegistryError(StatusCodes.Status404NotFound, "MANIFEST_UNKNOWN", $"manifest '{reference}' is not in repository '{repository}'")
            : await ServeBlobAsync(context, artifacts, metrics, RegistryMetrics.Manifest, repository, pushed.Digest, pushed.MediaType, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<ModelRecord?> FindModelVersionAsync(IModelStore models, string repository, string tag, CancellationToken cancellationToken) =>
        repository.StartsWith(ModelRepositoryPrefix, StringComparison.Ordinal)
            ? await models.FindModelAsync(repository[ModelRepositoryPrefix.Length..], tag, cancellationToken).ConfigureAwait(false)
            : null;

    private static async Task<IResult> ServeBlobAsync(
        HttpContext context, IArtifactStore artifacts, RegistryMetrics? metrics, string kind, string repository, string digest, string contentType, CancellationToken cancellationToken)
    {
        var stream = await artifacts.OpenReadAsync(digest, cancellationToken).ConfigureAwait(false);
        if (stream is null)
        {
            return RegistryError(StatusCodes.Status404NotFound, "BLOB_UNKNOWN", $"blob '{digest}' is not stored");
        }

        if (metrics is not null && HttpMethods.IsGet(context.Request.Method))
        {
            stream = metrics.Count(stream, kind, repository);
        }

        context.Response.Headers[DigestHeader] = digest;
        return Results.Stream(stream, contentType, entityTag: new EntityTagHeaderValue($"\"{digest}\""), enableRangeProcessing: true);
    }

    /// <summary>Pushed tags and, in <c>models/&lt;name&gt;</c>, the model's versions; lexical order, paged by <c>n</c> and <c>last</c>.</summary>
    private static async Task<IResult> ListTagsAsync(HttpContext context, IModelStore models, IRegistryManifestIndex? index, string repository, CancellationToken cancellationToken)
    {
        var tags = new SortedSet<string>(StringComparer.Ordinal);
        if (index is not null)
        {
            tags.UnionWith(await index.ListTagsAsync(repository, cancellationToken).ConfigureAwait(false));
        }

        if (repository.StartsWith(ModelRepositoryPrefix, StringComparison.Ordinal))
        {
            var all = await models.ListModelsAsync(cancellationToken).ConfigureAwait(false);
            tags.UnionWith(all.Where(m => string.Equals(m.Repository, repository, StringComparison.Ordinal)).Select(m => m.Version));
        }

        if (tags.Count == 0)
        {
            return RegistryError(StatusCodes.Status404NotFound, "NAME_UNKNOWN", $"repository '{repository}' has no tags");
        }

        var query = context.Request.Query;
        IEnumerable<string> page = tags;
        if (query["last"].ToString() is { Length: > 0 } last)
        {
            page = page.Where(t => string.CompareOrdinal(t, last) > 0);
        }

        var limit = int.MaxValue;
        if (query["n"].ToString() is { Length: > 0 } n && (!int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 0))
        {
            return RegistryError(StatusCodes.Status400BadRequest, "PAGINATION_NUMBER_INVALID", $"n: '{n}' is not a non-negative number");
        }

        var remaining = page.ToList();
        var returned = remaining.Take(limit).ToList();
        if (returned.Count < remaining.Count && returned.Count > 0)
        {
            context.Response.Headers.Link = $"</v2/{repository}/tags/list?n={limit}&last={Uri.EscapeDataString(returned[^1])}>; rel=\"next\"";
        }

        return Results.Json(new RegistryTagList(repository, returned), RegistryJsonContext.Default.RegistryTagList);
    }

    private static async Task<IResult> StartUploadAsync(HttpContext context, BlobUploads uploads, IRegistryManifestIndex index, string repository, CancellationToken cancellationToken)
    {
        // Authorized already (Refused), so the token has a subject: the open-upload limits count by it.
        var subject = context.RequestServices.GetRequiredService<RegistryTokenService>()
            .SubjectOf(AttestationApi.Credential(context.Request.Headers.Authorization)) ?? string.Empty;

        // ?mount= (cross-repository mount) is not offered; the spec's answer to it is an ordinary upload session.
        if (!context.Request.Query.TryGetValue("digest", out var digestValues))
        {
            return UploadAccepted(context, uploads.Start(repository, subject));
        }

        var digest = RequireDigest(digestValues.ToString());
        RequestLimits.SetBodyLimit(context, null);
        var session = uploads.Start(repository, subject);
        try
        {
            await uploads.CompleteAsync(session, context.Request.Body, context.Request.ContentLength, rangeStart: null, digest, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Nobody knows this session's id, so it cannot be resumed.
            await uploads.CancelAsync(session, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        await index.LinkBlobAsync(repository, digest, cancellationToken).ConfigureAwait(false);
        return BlobCreated(context, repository, digest);
    }

    private static async Task<IResult> AppendChunkAsync(HttpContext context, BlobUploads uploads, UploadSession session, CancellationToken cancellationToken)
    {
        var rangeStart = ReadContentRange(context.Request);
        RequestLimits.SetBodyLimit(context, null);
        await uploads.AppendAsync(session, context.Request.Body, context.Request.ContentLength, rangeStart, cancellationToken).ConfigureAwait(false);
        return UploadAccepted(context, session);
    }

    private static async Task<IResult> CompleteUploadAsync(HttpContext context, BlobUploads uploads, IRegistryManifestIndex index, UploadSession session, CancellationToken cancellationToken)
    {
        var digest = RequireDigest(context.Request.Query["digest"].ToString());
        var rangeStart = ReadContentRange(context.Request);
        RequestLimits.SetBodyLimit(context, null);
        await uploads.CompleteAsync(session, context.Request.Body, context.Request.ContentLength, rangeStart, digest, cancellationToken).ConfigureAwait(false);
        await index.LinkBlobAsync(session.Repository, digest, cancellationToken).ConfigureAwait(false);
        return BlobCreated(context, session.Repository, digest);
    }

    private static async Task<IResult> CancelUploadAsync(BlobUploads uploads, UploadSession session, CancellationToken cancellationToken)
    {
        await uploads.CancelAsync(session, cancellationToken).ConfigureAwait(false);
        return Results.NoContent();
    }

    private static IResult UploadStatus(HttpContext context, UploadSession session)
    {
        SetUploadHeaders(context, session);
        return Results.NoContent();
    }

    private static async Task<IResult> PutManifestAsync(
        HttpContext context,
        IModelStore models,
        IArtifactStore artifacts,
        IRegistryManifestIndex index,
        RegistryOptions options,
        TimeProvider timeProvider,
        ILogger logger,
        string repository,
        string reference,
        CancellationToken cancellationToken)
    {
        var tag = ContentDigest.IsValid(reference) ? null : reference;
        if (tag is not null && !RegistryNames.IsValidTag(tag))
        {
            return tag.Contains(':', StringComparison.Ordinal)
                ? RegistryError(StatusCodes.Status400BadRequest, "DIGEST_INVALID", $"'{reference}' is not a sha256 digest")
                : RegistryError(StatusCodes.Status400BadRequest, "TAG_INVALID", $"'{reference}' is not a tag: up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'");
        }

        if (!PushedManifest.IsAcceptedMediaType(context.Request.ContentType))
        {
            return RegistryError(
                StatusCodes.Status400BadRequest,
                "MANIFEST_INVALID",
                $"Content-Type must be {MediaTypes.OciManifest}, not '{context.Request.ContentType}'");
        }

        // Bounded by Registry:MaxManifestBytes as it is read, not by the API's body limit.
        RequestLimits.SetBodyLimit(context, null);
        var manifest = await ReadManifestBodyAsync(context.Request, options.MaxManifestBytes, cancellationToken).ConfigureAwait(false);
        var digest = ContentDigest.Compute(manifest.Span);
        if (tag is null && !string.Equals(reference, digest, StringComparison.Ordinal))
        {
            return RegistryError(StatusCodes.Status400BadRequest, "DIGEST_INVALID", $"the manifest's digest is {digest}, not {reference}");
        }

        var missing = new List<string>();
        foreach (var descriptor in PushedManifest.ReadBlobReferences(manifest))
        {
            var size = await artifacts.GetSizeAsync(descriptor.Digest, cancellationToken).ConfigureAwait(false);
            if (size is null)
            {
                missing.Add(descriptor.Digest);
            }
            else if (size != descriptor.Size)
            {
                return RegistryError(
                    StatusCodes.Status400BadRequest,
                    "MANIFEST_INVALID",
                    $"the descriptor of {descriptor.Digest} says {descriptor.Size} bytes; the blob has {size}");
            }
        }

        if (missing.Count > 0)
        {
            return RegistryError(
                StatusCodes.Status400BadRequest,
                "MANIFEST_BLOB_UNKNOWN",
                $"push these blobs before the manifest that references them: {string.Join(", ", missing.Distinct(StringComparer.Ordinal))}");
        }

        if (tag is not null && await FindModelVersionAsync(models, repository, tag, cancellationToken).ConfigureAwait(false) is not null)
        {
            return RegistryError(
                StatusCodes.Status403Forbidden,
                "DENIED",
                $"'{repository}:{tag}' is a published model version, which cannot be re-tagged; push under another tag");
        }

        await artifacts.PutAsync(manifest, cancellationToken).ConfigureAwait(false);
        await index.SaveAsync(new RegistryManifest(repository, digest, MediaTypes.OciManifest, manifest.Length), tag, timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        LogManifestPushed(logger, repository, tag ?? "(none)", digest);

        context.Response.Headers.Location = $"/v2/{repository}/manifests/{digest}";
        context.Response.Headers[DigestHeader] = digest;
        context.Response.ContentLength = 0;
        return Results.StatusCode(StatusCodes.Status201Created);
    }

    private static async Task<ReadOnlyMemory<byte>> ReadManifestBodyAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            throw ManifestTooLarge(maxBytes);
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16384];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                throw ManifestTooLarge(maxBytes);
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
    }

    private static RegistryErrorException ManifestTooLarge(int maxBytes) =>
        new(StatusCodes.Status413PayloadTooLarge, "SIZE_INVALID", $"the manifest is over this registry's limit of {maxBytes} bytes ({RegistryOptions.Section}:{nameof(RegistryOptions.MaxManifestBytes)})");

    private static UploadSession FindUpload(BlobUploads uploads, RegistryRoute route) =>
        uploads.Find(route.Repository, route.Reference) ?? throw BlobUploads.UnknownUpload(route.Reference);

    private static string RequireDigest(string digest) =>
        ContentDigest.IsValid(digest)
            ? digest
            : throw new RegistryErrorException(StatusCodes.Status400BadRequest, "DIGEST_INVALID", $"digest: '{digest}' is not a sha256 digest (sha256:<64 lowercase hex>)");

    /// <summary>
    /// The start of the chunk from <c>Content-Range</c> (<c>&lt;start&gt;-&lt;end&gt;</c>, inclusive, as the
    /// spec writes it; <c>bytes &lt;start&gt;-&lt;end&gt;/*</c> is read too), or null when absent.
    /// </summary>
    private static long? ReadContentRange(HttpRequest request)
    {
        var header = request.Headers.ContentRange.ToString();
        if (header.Length == 0)
        {
            return null;
        }

        var value = header.StartsWith("bytes", StringComparison.OrdinalIgnoreCase) ? header[5..].TrimStart(' ', '=') : header;
        var slash = value.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            value = value[..slash];
        }

        var parts = value.Split('-');
        if (parts.Length != 2
            || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
            || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var end)
            || end < start)
        {
            throw new RegistryErrorException(
                StatusCodes.Status400BadRequest,
                "BLOB_UPLOAD_INVALID",
                $"Content-Range: '{header}' is not '<start>-<end>' with start <= end");
        }

        if (request.ContentLength is { } length && length != end - start + 1)
        {
            throw new RegistryErrorException(
                StatusCodes.Status400BadRequest,
                "BLOB_UPLOAD_INVALID",
                $"Content-Range '{header}' covers {end - start + 1} bytes but Content-Length is {length}");
        }

        return start;
    }

    /// <summary>Blobs are streamed to disk and capped by <see cref="RegistryOptions.MaxBlobBytes"/>, not by the server's default request limit.</summary>
    private static IResult UploadAccepted(HttpContext context, UploadSession session)
    {
        SetUploadHeaders(context, session);
        context.Response.ContentLength = 0;
        return Results.StatusCode(StatusCodes.Status202Accepted);
    }

    private static void SetUploadHeaders(HttpContext context, UploadSession session)
    {
        context.Response.Headers.Location = $"/v2/{session.Repository}/blobs/uploads/{session.Id}";
        context.Response.Headers[HeaderNames.Range] = BlobUploads.RangeOf(session.Size);
        context.Response.Headers[UploadUuidHeader] = session.Id;
    }

    private static IResult BlobCreated(HttpContext context, string repository, string digest)
    {
        context.Response.Headers.Location = $"/v2/{repository}/blobs/{digest}";
        context.Response.Headers[DigestHeader] = digest;
        context.Response.ContentLength = 0;
        return Results.StatusCode(StatusCodes.Status201Created);
    }

    /// <summary>
    /// Every registry call needs a registry token granting the action on the repository (registry
    /// token authentication); without one the answer is 401 with the challenge that names where
    /// to get it, as a distribution registry configured with <c>auth: token</c> answers.
    /// </summary>
    private static async Task<IResult?> RefusedAsync(HttpContext context, RegistryRoute route, string action, CancellationToken cancellationToken)
    {
        if (route.Kind == RouteKind.None)
        {
            return null;
        }

        var tokens = context.RequestServices.GetRequiredService<RegistryTokenService>();
        var token = AttestationApi.Credential(context.Request.Headers.Authorization);
        return await tokens.RefusalAsync(token, route.Repository, action, cancellationToken).ConfigureAwait(false) is not { } reason
            ? null
            : Challenge(
                context,
                tokens,
                context.RequestServices.GetRequiredService<ServerBootstrap>(),
                // A pusher also reads (blob existence checks), so one token serves the whole push.
                $"repository:{route.Repository}:{(action == RegistryTokenService.Push ? "pull,push" : action)}",
                reason);
    }

    private static IResult Challenge(HttpContext context, RegistryTokenService tokens, ServerBootstrap bootstrap, string? scope, string reason)
    {
        var challenge = $"Bearer realm=\"{bootstrap.PublicUrl}/api/v1/registry/token\",service=\"{tokens.Service}\"";
        if (scope is not null)
        {
            challenge += $",scope=\"{scope}\"";
        }

        context.Response.Headers.WWWAuthenticate = challenge;
        return RegistryError(StatusCodes.Status401Unauthorized, "UNAUTHORIZED", reason);
    }

    private static IResult RegistryError(HttpContext context, RegistryErrorException error)
    {
        foreach (var (name, value) in error.Headers)
        {
            context.Response.Headers[name] = value;
        }

        return RegistryError(error.StatusCode, error.Code, error.Message);
    }

    private static IResult RegistryError(int status, string code, string message) =>
        Results.Json(
            new RegistryErrors([new RegistryErrorEntry(code, message)]),
            RegistryJsonContext.Default.RegistryErrors,
            statusCode: status);

    [LoggerMessage(EventId = 20, Level = LogLevel.Information, Message = "Manifest {Digest} pushed to {Repository}, tag {Tag}")]
    private static partial void LogManifestPushed(ILogger logger, string repository, string tag, string digest);

    private enum RouteKind
    {
        None,
        Manifest,
        Blob,
        UploadStart,
        Upload,
        Tags,
    }

    /// <summary>What a path under /v2/ names: repository names contain '/', so routes are found from the right.</summary>
    private readonly record struct RegistryRoute(RouteKind Kind, string Repository, string Reference)
    {
        private const string TagsList = "/tags/list";
        private const string Uploads = "/blobs/uploads";

        public static RegistryRoute Parse(string path)
        {
            if (path.EndsWith(TagsList, StringComparison.Ordinal) && path.Length > TagsList.Length)
            {
                return new(RouteKind.Tags, path[..^TagsList.Length], string.Empty);
            }

            var uploads = path.LastIndexOf(Uploads, StringComparison.Ordinal);
            if (uploads > 0)
            {
                var rest = path[(uploads + Uploads.Length)..];
                if (rest is "" or "/")
                {
                    return new(RouteKind.UploadStart, path[..uploads], string.Empty);
                }

                if (rest[0] == '/' && rest.IndexOf('/', 1) < 0)
                {
                    return new(RouteKind.Upload, path[..uploads], rest[1..]);
                }
            }

            if (TrySplit(path, "/manifests/", out var repository, out var reference))
            {
                return new(RouteKind.Manifest, repository, reference);
            }

            return TrySplit(path, "/blobs/", out repository, out reference)
                ? new(RouteKind.Blob, repository, reference)
                : new(RouteKind.None, string.Empty, string.Empty);
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
    }
}

internal sealed record RegistryErrors(IReadOnlyList<RegistryErrorEntry> Errors);

internal sealed record RegistryErrorEntry(string Code, string Message);

internal sealed record RegistryTagList(string Name, IReadOnlyList<string> Tags);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web)]
[System.Text.Json.Serialization.JsonSerializable(typeof(RegistryErrors))]
[System.Text.Json.Serialization.JsonSerializable(typeof(RegistryTagList))]
internal sealed partial class RegistryJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
