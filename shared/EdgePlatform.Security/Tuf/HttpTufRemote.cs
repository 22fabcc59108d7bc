using System.Net;

namespace EdgePlatform.Security.Tuf;

/// <summary>Fetches signed metadata from the control plane's <c>/api/v1/trust/</c>; verification is the client's job.</summary>
public sealed class HttpTufRemote(HttpClient http, Func<CancellationToken, ValueTask<Uri>> baseUri) : ITufRemote
{
    /// <summary>Metadata larger than this is refused unread, so a hostile server cannot exhaust memory.</summary>
    public const int MaxMetadataBytes = 8 << 20;

    public async Task<byte[]?> GetRootAsync(long version, CancellationToken cancellationToken)
    {
        using var response = await GetAsync($"api/v1/trust/root/{version}", cancellationToken).ConfigureAwait(false);
        return response.StatusCode == HttpStatusCode.NotFound ? null : await ReadAsync(response, cancellationToken).ConfigureAwait(false);
    }

    public async Task<byte[]> GetTimestampAsync(CancellationToken cancellationToken)
    {
        using var response = await GetAsync("api/v1/trust/timestamp", cancellationToken).ConfigureAwait(false);
        return await ReadAsync(response, cancellationToken).ConfigureAwait(false);
    }

    public async Task<byte[]> GetTargetsAsync(CancellationToken cancellationToken)
    {
        using var response = await GetAsync("api/v1/trust/targets", cancellationToken).ConfigureAwait(false);
        return await ReadAsync(response, cancellationToken).ConfigureAwait(false);
    }

    private async Task<HttpResponseMessage> GetAsync(string path, CancellationToken cancellationToken)
    {
        var root = await baseUri(cancellationToken).ConfigureAwait(false);
        return await http.GetAsync(new Uri(root, path), HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<byte[]> ReadAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"metadata request {response.RequestMessage?.RequestUri} answered {(int)response.StatusCode}", null, response.StatusCode);
        }

        if (response.Content.Headers.ContentLength is > MaxMetadataBytes)
        {
            throw new TufFormatException($"metadata of {response.Content.Headers.ContentLength} bytes exceeds the {MaxMetadataBytes}-byte limit");
        }

        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            var chunk = new byte[81920];
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                buffer.Write(chunk, 0, read);
                if (buffer.Length > MaxMetadataBytes)
                {
                    throw new TufFormatException($"metadata exceeds the {MaxMetadataBytes}-byte limit");
                }
            }

            return buffer.ToArray();
        }
    }
}
