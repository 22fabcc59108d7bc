using System.Net;
using System.Net.Http.Headers;
using EdgePlatform.Agent.Http;

namespace EdgePlatform.Agent.Scorer;

/// <summary>
/// <c>scorer health</c>: asks the local scorer's <c>/v2/health/ready</c>, with its token, on the
/// address and port its own configuration gives. The image's HEALTHCHECK, which has no shell or curl.
/// </summary>
public static class ScorerHealth
{
    /// <summary>Longer than Docker's health-check interval allows for would only pile checks up.</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    /// <returns>0 when the scorer answered 200, 1 otherwise (the reason on <paramref name="error"/>).</returns>
    public static async Task<int> CheckAsync(InferenceHttpOptions options, TextWriter error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(error);
        if (ReadyUri(options, out var problem) is not { } uri)
        {
            await error.WriteLineAsync($"not ready: {problem}").ConfigureAwait(false);
            return 1;
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        if (options.BearerTokenFile is { Length: > 0 } tokenFile)
        {
            if (InferenceBearerToken.Problem(tokenFile) is { } tokenProblem)
            {
                await error.WriteLineAsync($"not ready: InferenceHttp:BearerTokenFile '{tokenFile}' {tokenProblem}").ConfigureAwait(false);
                return 1;
            }

            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", (await File.ReadAllTextAsync(tokenFile, cancellationToken).ConfigureAwait(false)).Trim());
        }

        using var client = new HttpClient { Timeout = Timeout };
        try
        {
            using var response = await client.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                return 0;
            }

            await error.WriteLineAsync($"not ready: {uri} answered {(int)response.StatusCode} {response.ReasonPhrase}").ConfigureAwait(false);
            return 1;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            await error.WriteLineAsync($"not ready: {uri} did not answer: {ex.Message}").ConfigureAwait(false);
            return 1;
        }
    }

    /// <summary>Where the scorer listens, seen from inside its host: a wildcard bind is reached on loopback.</summary>
    private static Uri? ReadyUri(InferenceHttpOptions options, out string? problem)
    {
        if (!IPAddress.TryParse(options.BindAddress, out var address))
        {
            problem = $"InferenceHttp:BindAddress '{options.BindAddress}' is not an IP address";
            return null;
        }

        if (options.Port == 0)
        {
            problem = "InferenceHttp:Port is 0 (a free port picked at start), so the health check cannot know where the scorer listens";
            return null;
        }

        if (address.Equals(IPAddress.Any))
        {
            address = IPAddress.Loopback;
        }
        else if (address.Equals(IPAddress.IPv6Any))
        {
            address = IPAddress.IPv6Loopback;
        }

        problem = null;
        return new UriBuilder(Uri.UriSchemeHttp, address.ToString(), options.Port, "/v2/health/ready").Uri;
    }
}
