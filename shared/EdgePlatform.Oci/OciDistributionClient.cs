using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using EdgePlatform.Contracts;

namespace EdgePlatform.Oci;

/// <summary>
/// A client of the OCI distribution API (v1.1): pushes blobs (monolithic or in chunks) and
/// manifests, pulls them back verified against their digests, resumes blob downloads with
/// Range, lists tags, and keeps CMS signatures as cosign does, under <c>sha256-&lt;hex&gt;.sig</c>.
/// Works against the control plane's embedded registry and the CNCF distribution registry.
/// </summary>
/// <remarks>No authentication yet: the registry must accept anonymous requests.</remarks>
public sealed class OciDistributionClient
{
    /// <summary>Chunk size of <see cref="PushBlobChunkedAsync"/> when none is given: 8 MiB.</summary>
    public const int DefaultChunkSize = 8 * 1024 * 1024;

    /// <summary>Manifests larger than this are refused when read, as registries refuse them when pushed.</summary>
    public const int MaxManifestBytes = 4 * 1024 * 1024;

    private const string DigestHeader = "Docker-Content-Digest";

    private readonly HttpClient _http;
    private readonly Uri _registry;

    /// <param name="httpClient">Sends the requests; it is not disposed here.</param>
    /// <param name="registry">The registry's root, e.g. <c>http://127.0.0.1:5000/</c>; requests go to <c>v2/...</c> under it.</param>
    public OciDistributionClient(HttpClient httpClient, Uri registry)
    {
        ArgumentNullException.ThrowIfNull(httpClient);
        ArgumentNullException.ThrowIfNull(registry);
        _http = httpClient;
        _registry = registry.AbsoluteUri.EndsWith('/') ? registry : new Uri(registry.AbsoluteUri + "/");
    }

    /// <summary>The tag under which a manifest's signature is kept where a registry has no referrers API.</summary>
    public static string SignatureTag(string manifestDigest) => OciManifest.SignatureTag(manifestDigest);

    /// <summary>True when the repository has the blob (HEAD), false on 404.</summary>
    public async Task<bool> BlobExistsAsync(string repository, string digest, CancellationToken cancellationToken)
    {
        RequireDigest(digest);
        using var request = new HttpRequestMessage(HttpMethod.Head, Endpoint(repository, $"blobs/{digest}"));
        using var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        await EnsureSuccessAsync(request, response, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Pushes content held in memory as one blob (POST then PUT), unless the registry already has it.
    /// Returns the descriptor to put in a manifest.
    /// </summary>
    public async Task<OciDescriptor> PushBlobAsync(string repository, ReadOnlyMemory<byte> content, string mediaType, CancellationToken cancellationToken)
    {
        var digest = ContentDigest.Compute(content.Span);
        using var body = new ReadOnlyMemoryContent(content);
        await PushBlobAsync(repository, digest, body, content.Length, cancellationToken).ConfigureAwait(false);
        return new OciDescriptor(mediaType, digest, content.Length);
    }

    /// <summary>
    /// Streams a blob of known digest and size in one PUT, unless the registry already has it
    /// (then nothing is read). Returns true when it was uploaded. The registry checks the digest;
    /// the stream is read from its current position and left open.
    /// </summary>
    public async Task<bool> PushBlobAsync(string repository, string digest, Stream content, long size, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        using var body = new UndisposedStreamContent(content, size);
        return await PushBlobAsync(repository, digest, body, size, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Pushes a blob in chunks of <paramref name="chunkSize"/> bytes (POST, a PATCH per chunk with
    /// its Content-Range, PUT with the digest computed on the way), for content too large for one request.
    /// </summary>
    public async Task<OciDescriptor> PushBlobChunkedAsync(string repository, Stream content, string mediaType, int chunkSize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkSize, 1);
        var location = await StartUploadAsync(repository, cancellationToken).ConfigureAwait(false);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[chunkSize];
        long offset = 0;
        int filled;
        while ((filled = await content.ReadAtLeastAsync(buffer, chunkSize, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false)) > 0)
        {
            hash.AppendData(buffer, 0, filled);
            using var request = new HttpRequestMessage(HttpMethod.Patch, location);
            request.Content = new ByteArrayContent(buffer, 0, filled);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(OciMediaTypes.OctetStream);
            request.Content.Headers.TryAddWithoutValidation("Content-Range", string.Create(CultureInfo.InvariantCulture, $"{offset}-{offset + filled - 1}"));
            using var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
            await EnsureSuccessAsync(request, response, cancellationToken).ConfigureAwait(false);
            location = NextLocation(request, response);
            offset += filled;
        }

        var digest = ContentDigest.FromHash(hash.GetHashAndReset());
        using (var request = new HttpRequestMessage(HttpMethod.Put, WithDigest(location, digest)))
        {
            request.Content = new ByteArrayContent([]);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(OciMediaTypes.OctetStream);
            using var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
            await EnsureSuccessAsync(request, response, cancellationToken).ConfigureAwait(false);
        }

        return new OciDescriptor(mediaType, digest, offset);
    }

    /// <summary>
    /// Pushes a manifest under a tag or its digest; the registry refuses it (MANIFEST_BLOB_UNKNOWN)
    /// unless every blob it references is there. Returns the manifest's digest.
    /// </summary>
    public async Task<string> PushManifestAsync(string repository, string reference, ReadOnlyMemory<byte> manifest, string mediaType, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(reference);
        ArgumentException.ThrowIfNullOrEmpty(mediaType);
        var digest = ContentDigest.Compute(manifest.Span);
        using var request = new HttpRequestMessage(HttpMethod.Put, Endpoint(repository, $"manifests/{reference}"));
        request.Content = new ReadOnlyMemoryContent(manifest);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        using var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(request, response, cancellationToken).ConfigureAwait(false);
        if (HeaderValue(response, DigestHeader) is { } stored && !string.Equals(stored, digest, StringComparison.Ordinal))
        {
            throw new OciContentException($"the registry stored the manifest pushed to {repository}:{reference} as {stored}, but its digest is {digest}");
        }

        return digest;
    }

    /// <summary>
    /// Fetches a manifest by tag or digest. The bytes are checked against the digest asked for, or
    /// against the digest the registry reports for a tag. MANIFEST_UNKNOWN when it is not there.
    /// </summary>
    public async Task<OciManifestContent> GetManifestAsync(string repository, string reference, CancellationToken cancellationToken) =>
        await TryGetManifestAsync(repository, reference, cancellationToken).ConfigureAwait(false)
        ?? throw new OciRegistryException(
            $"GET {Endpoint(repository, $"manifests/{reference}")}: 404 MANIFEST_UNKNOWN",
            HttpStatusCode.NotFound,
            [new OciError("MANIFEST_UNKNOWN", $"manifest '{reference}' is not in repository '{repository}'")]);

    /// <summary>Reads a whole blob into memory and checks it against its digest; for large blobs use <see cref="OpenBlobAsync"/>.</summary>
    public async Task<byte[]> GetBlobAsync(string repository, string digest, CancellationToken cancellationToken)
    {
        var stream = await OpenBlobAsync(repository, digest, 0, cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            var content = buffer.ToArray();
            var actual = ContentDigest.Compute(content);
            return string.Equals(actual, digest, StringComparison.Ordinal)
                ? content
                : throw new OciContentException($"blob {digest} from {repository} has digest {actual}: the content is not what was asked for");
        }
    }

    /// <summary>
    /// Opens a blob's content from <paramref name="offset"/> on (Range request), to resume a download
    /// that stopped there. The caller verifies the digest over what it already has plus this stream.
    /// </summary>
    public async Task<Stream> OpenBlobAsync(string repository, string digest, long offset, CancellationToken cancellationToken)
    {
        RequireDigest(digest);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var request = new HttpRequestMessage(HttpMethod.Get, Endpoint(repository, $"blobs/{digest}"));
        if (offset > 0)
        {
            request.Headers.Range = new RangeHeaderValue(offset, null);
        }

        HttpResponseMessage? response = null;
        try
        {
            response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
            await EnsureSuccessAsync(request, response, cancellationToken).ConfigureAwait(false);
            if (offset > 0 && (response.StatusCode != HttpStatusCode.PartialContent || response.Content.Headers.ContentRange?.From != offset))
            {
                throw new OciRegistryException(
                    $"GET {request.RequestUri}: asked for bytes from {offset} on, the registry answered {(int)response.StatusCode} {response.Content.Headers.ContentRange}",
                    response.StatusCode,
                    []);
            }

            return new ResponseStream(request, response, await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
        }
        catch
        {
            response?.Dispose();
            request.Dispose();
            throw;
        }
    }

    /// <summary>The repository's tags in the registry's order, following its pages; empty for a repository it does not know.</summary>
    public async Task<IReadOnlyList<string>> TagsAsync(string repository, CancellationToken cancellationToken)
    {
        var tags = new List<string>();
        Uri? next = Endpoint(repository, "tags/list");
        while (next is not null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, next);
            using var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound && tags.Count == 0)
            {
                var error = await ReadErrorAsync(request, response, cancellationToken).ConfigureAwait(false);
                if (error.ErrorCode is "NAME_UNKNOWN")
                {
                    return tags;
                }

                throw error;
            }

            await EnsureSuccessAsync(request, response, cancellationToken).ConfigureAwait(false);
            var page = await response.Content.ReadFromJsonAsync(OciJsonContext.Default.OciTagList, cancellationToken).ConfigureAwait(false);
            tags.AddRange(page?.Tags ?? []);
            next = NextPage(request, response);
        }

        return tags;
    }

    /// <summary>
    /// Stores a CMS signature over a manifest as cosign does: a manifest of artifactType
    /// <see cref="OciMediaTypes.SignatureArtifact"/> with the empty config and one
    /// <c>application/pkcs7-signature</c> layer, tagged <c>sha256-&lt;hex&gt;.sig</c>, with the signed
    /// manifest as its subject for registries that do have a referrers API. Returns the signature manifest's digest.
    /// </summary>
    public async Task<string> PushSignatureAsync(string repository, string manifestDigest, ReadOnlyMemory<byte> cmsSignature, CancellationToken cancellationToken)
    {
        RequireDigest(manifestDigest);
        if (cmsSignature.IsEmpty)
        {
            throw new ArgumentException("the signature is empty", nameof(cmsSignature));
        }

        var subject = await DescribeManifestAsync(repository, manifestDigest, cancellationToken).ConfigureAwait(false);
        var config = await PushBlobAsync(repository, OciMediaTypes.EmptyJson, MediaTypes.OciEmptyConfig, cancellationToken).ConfigureAwait(false);
        var signature = await PushBlobAsync(repository, cmsSignature, MediaTypes.CmsSignature, cancellationToken).ConfigureAwait(false);
        var manifest = new OciArtifactManifest(2, MediaTypes.OciManifest, OciMediaTypes.SignatureArtifact, config, [signature], subject);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(manifest, OciJsonContext.Default.OciArtifactManifest);
        return await PushManifestAsync(repository, SignatureTag(manifestDigest), bytes, MediaTypes.OciManifest, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The CMS signature stored for a manifest by <see cref="PushSignatureAsync"/>, verified against its digest; null when there is none.</summary>
    public async Task<byte[]?> GetSignatureAsync(string repository, string manifestDigest, CancellationToken cancellationToken)
    {
        var tag = SignatureTag(manifestDigest);
        var content = await TryGetManifestAsync(repository, tag, cancellationToken).ConfigureAwait(false);
        if (content is null)
        {
            return null;
        }

        OciArtifactManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize(content.Content, OciJsonContext.Default.OciArtifactManifest);
        }
        catch (JsonException e)
        {
            throw new OciContentException($"{repository}:{tag} is not a valid OCI manifest: {e.Message}");
        }

        if (manifest is null || !string.Equals(manifest.ArtifactType, OciMediaTypes.SignatureArtifact, StringComparison.Ordinal))
        {
            throw new OciContentException($"{repository}:{tag} holds artifactType '{manifest?.ArtifactType}', not a signature ({OciMediaTypes.SignatureArtifact})");
        }

        if (manifest.Subject is { } subject && !string.Equals(subject.Digest, manifestDigest, StringComparison.Ordinal))
        {
            throw new OciContentException($"{repository}:{tag} is the signature of {subject.Digest}, not of {manifestDigest}");
        }

        var layer = manifest.Layers?.FirstOrDefault(l => string.Equals(l.MediaType, MediaTypes.CmsSignature, StringComparison.Ordinal))
            ?? throw new OciContentException($"{repository}:{tag} has no {MediaTypes.CmsSignature} layer");
        return await GetBlobAsync(repository, layer.Digest, cancellationToken).ConfigureAwait(false);
    }

    private async Task<bool> PushBlobAsync(string repository, string digest, HttpContent body, long size, CancellationToken cancellationToken)
    {
        if (await BlobExistsAsync(repository, digest, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        // POST then PUT: the distribution registry takes no body on the POST.
        var location = await StartUploadAsync(repository, cancellationToken).ConfigureAwait(false);
        using var request = new HttpRequestMessage(HttpMethod.Put, WithDigest(location, digest));
        request.Content = body;
        body.Headers.ContentType = new MediaTypeHeaderValue(OciMediaTypes.OctetStream);
        body.Headers.ContentLength = size;
        using var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(request, response, cancellationToken).ConfigureAwait(false);
        return true;
    }

    private async Task<Uri> StartUploadAsync(string repository, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Endpoint(repository, "blobs/uploads/"));
        using var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(request, response, cancellationToken).ConfigureAwait(false);
        return NextLocation(request, response);
    }

    private async Task<OciManifestContent?> TryGetManifestAsync(string repository, string reference, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(reference);
        using var request = new HttpRequestMessage(HttpMethod.Get, Endpoint(repository, $"manifests/{reference}"));
        request.Headers.Accept.ParseAdd(MediaTypes.OciManifest);
        request.Headers.Accept.ParseAdd(OciMediaTypes.OciImageIndex);
        using var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            var error = await ReadErrorAsync(request, response, cancellationToken).ConfigureAwait(false);
            return error.ErrorCode is "MANIFEST_UNKNOWN" or "NAME_UNKNOWN" ? null : throw error;
        }

        await EnsureSuccessAsync(request, response, cancellationToken).ConfigureAwait(false);
        if (response.Content.Headers.ContentLength > MaxManifestBytes)
        {
            throw new OciContentException($"manifest {repository}:{reference} is {response.Content.Headers.ContentLength} bytes, over the {MaxManifestBytes}-byte limit");
        }

        var content = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        var digest = ContentDigest.Compute(content);
        var expected = ContentDigest.IsValid(reference) ? reference : HeaderValue(response, DigestHeader);
        if (expected is not null && !string.Equals(expected, digest, StringComparison.Ordinal))
        {
            throw new OciContentException($"manifest {repository}:{reference} should have digest {expected}, but the content served has {digest}");
        }

        return new OciManifestContent(content, digest, response.Content.Headers.ContentType?.MediaType ?? MediaTypes.OciManifest);
    }

    /// <summary>The descriptor of a manifest in the repository, from a HEAD request.</summary>
    private async Task<OciDescriptor> DescribeManifestAsync(string repository, string digest, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, Endpoint(repository, $"manifests/{digest}"));
        request.Headers.Accept.ParseAdd(MediaTypes.OciManifest);
        request.Headers.Accept.ParseAdd(OciMediaTypes.OciImageIndex);
        using var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            throw new OciRegistryException(
                $"HEAD {request.RequestUri}: 404: there is no manifest {digest} in {repository} to sign",
                HttpStatusCode.NotFound,
                [new OciError("MANIFEST_UNKNOWN", $"manifest '{digest}' is not in repository '{repository}'")]);
        }

        await EnsureSuccessAsync(request, response, cancellationToken).ConfigureAwait(false);
        var size = response.Content.Headers.ContentLength
            ?? throw new OciContentException($"HEAD {request.RequestUri}: the registry gave no Content-Length");
        return new OciDescriptor(response.Content.Headers.ContentType?.MediaType ?? MediaTypes.OciManifest, digest, size);
    }

    private Uri Endpoint(string repository, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(repository);
        return new Uri(_registry, $"v2/{repository}/{path}");
    }

    private Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);

    private static Uri NextLocation(HttpRequestMessage request, HttpResponseMessage response) =>
        response.Headers.Location is { } location
            ? new Uri(request.RequestUri!, location)
            : throw new OciContentException($"{request.Method} {request.RequestUri}: the registry answered {(int)response.StatusCode} without a Location");

    private static Uri WithDigest(Uri location, string digest)
    {
        var separator = string.IsNullOrEmpty(location.Query) ? "?" : "&";
        return new Uri(location.AbsoluteUri + separator + "digest=" + Uri.EscapeDataString(digest));
    }

    /// <summary>The <c>Link: &lt;...&gt;; rel="next"</c> target of a paged answer, if any.</summary>
    private static Uri? NextPage(HttpRequestMessage request, HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Link", out var links))
        {
            return null;
        }

        foreach (var link in links)
        {
            var open = link.IndexOf('<', StringComparison.Ordinal);
            var close = link.IndexOf('>', StringComparison.Ordinal);
            if (open >= 0 && close > open && link.Contains("rel=\"next\"", StringComparison.Ordinal))
            {
                return new Uri(request.RequestUri!, link[(open + 1)..close]);
            }
        }

        return null;
    }

    private static string? HeaderValue(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    private static void RequireDigest(string digest)
    {
        if (!ContentDigest.IsValid(digest))
        {
            throw new ArgumentException($"'{digest}' is not a sha256 digest", nameof(digest));
        }
    }

    private static async Task EnsureSuccessAsync(HttpRequestMessage request, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw await ReadErrorAsync(request, response, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<OciRegistryException> ReadErrorAsync(HttpRequestMessage request, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var errors = new List<OciError>();
        if (request.Method != HttpMethod.Head)
        {
            try
            {
                var document = await response.Content.ReadFromJsonAsync(OciJsonContext.Default.OciErrorDocument, cancellationToken).ConfigureAwait(false);
                errors.AddRange((document?.Errors ?? []).Select(e => new OciError(e.Code ?? "UNKNOWN", e.Message ?? string.Empty)));
            }
            catch (Exception e) when (e is JsonException or NotSupportedException or HttpRequestException or IOException)
            {
                // Not the registry's error JSON (a proxy's page, an empty or cut-short body): the status says it all.
            }
        }

        var summary = errors.Count > 0
            ? string.Join("; ", errors.Select(e => $"{e.Code}: {e.Message}"))
            : response.ReasonPhrase ?? string.Empty;
        return new OciRegistryException(
            $"{request.Method} {request.RequestUri}: {(int)response.StatusCode} {summary}",
            response.StatusCode,
            errors);
    }

    /// <summary>Sends the caller's stream without taking ownership of it, as <see cref="StreamContent"/> would.</summary>
    private sealed class UndisposedStreamContent(Stream content, long size) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
            content.CopyToAsync(stream, cancellationToken);

        protected override bool TryComputeLength(out long length)
        {
            length = size;
            return true;
        }
    }

    /// <summary>Keeps the HTTP exchange alive for as long as its content stream is read.</summary>
    private sealed class ResponseStream(HttpRequestMessage request, HttpResponseMessage response, Stream inner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            inner.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                response.Dispose();
                request.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
