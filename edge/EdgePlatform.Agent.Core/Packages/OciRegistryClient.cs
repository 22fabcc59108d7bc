using System.Net;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Core.Packages;

/// <summary>Pulls manifests and blobs over the OCI distribution API.</summary>
public sealed class OciRegistryClient(HttpClient http, IRegistryLocator locator) : IRegistryClient
{
    public async Task<byte[]> GetManifestAsync(string repository, string digest, long maxBytes, CancellationToken cancellationToken)
    {
        var baseUri = await locator.GetRegistryUriAsync(cancellationToken).ConfigureAwait(false);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(baseUri, $"v2/{repository}/manifests/{digest}"));
        request.Headers.Accept.ParseAdd(MediaTypes.OciManifest);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        EnsureFound(response, $"manifest {digest} in {repository}");
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            // Read one byte past the limit so an oversized manifest is detected, not truncated silently.
            var buffer = new byte[checked((int)maxBytes + 1)];
            var total = 0;
            int read;
            while (total < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false)) > 0)
            {
                total += read;
            }

            return buffer[..total];
        }
    }

    public async Task<byte[]?> GetSignatureAsync(string repository, string manifestDigest, CancellationToken cancellationToken)
    {
        var baseUri = await locator.GetRegistryUriAsync(cancellationToken).ConfigureAwait(false);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(baseUri, $"v2/{repository}/manifests/{OciManifest.SignatureTag(manifestDigest)}"));
        request.Headers.Accept.ParseAdd(MediaTypes.OciManifest);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        EnsureFound(response, $"signature of {manifestDigest} in {repository}");
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        var manifest = System.Text.Json.JsonSerializer.Deserialize(bytes, ContractsJsonContext.Default.OciManifest);
        var layer = manifest?.FindLayer(MediaTypes.CmsSignature);
        if (layer is null || layer.Size is <= 0 or > 1 << 20)
        {
            return null;
        }

        var content = await OpenBlobAsync(repository, layer.Digest, 0, cancellationToken).ConfigureAwait(false);
        await using (content.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            await content.Stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            var signature = buffer.ToArray();

            // The signature blob is content-addressed like any other; a mismatch is no signature.
            return ContentDigest.Compute(signature) == layer.Digest ? signature : null;
        }
    }

    public async Task<BlobContent> OpenBlobAsync(string repository, string digest, long offset, CancellationToken cancellationToken)
    {
        var baseUri = await locator.GetRegistryUriAsync(cancellationToken).ConfigureAwait(false);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(baseUri, $"v2/{repository}/blobs/{digest}"));
        if (offset > 0)
        {
            request.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(offset, null);
        }

        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        try
        {
            EnsureFound(response, $"blob {digest} in {repository}");
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            return new BlobContent(new ResponseStream(response, stream), offset > 0 && response.StatusCode == HttpStatusCode.PartialContent);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    private static void EnsureFound(HttpResponseMessage response, string what)
    {
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            throw new HttpRequestException($"the registry does not have {what}", null, response.StatusCode);
        }

        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"the registry answered {(int)response.StatusCode} for {what}", null, response.StatusCode);
        }
    }

    /// <summary>Keeps the HTTP response alive for as long as its content stream is read.</summary>
    private sealed class ResponseStream(HttpResponseMessage response, Stream inner) : Stream
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
            }

            base.Dispose(disposing);
        }
    }
}
