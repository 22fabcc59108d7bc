using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace EdgePlatform.Oci;

/// <summary>
/// Registry token authentication on the client side, as the distribution registry specifies it:
/// a request answered 401 with <c>WWW-Authenticate: Bearer realm=…,service=…,scope=…</c> is sent
/// again with a token fetched from the realm, presenting the caller's credential (an attestation
/// token or an API token) as a bearer token. Tokens are kept per repository and reused until
/// the registry refuses them.
/// The credential goes only to a token service on the registry's own origin or on one of
/// <paramref name="trustedTokenServices"/> (the control plane a client was configured with), and
/// never over plain HTTP beyond loopback: the realm is whatever a 401 says, and whoever answers
/// a pull or a push would otherwise be handed the caller's token.
/// </summary>
public sealed partial class RegistryTokenHandler(
    Func<CancellationToken, ValueTask<string?>> credential,
    IEnumerable<Uri>? trustedTokenServices = null) : DelegatingHandler
{
    private readonly Uri[] _trusted = [.. trustedTokenServices ?? []];

    private readonly ConcurrentDictionary<string, string> _tokens = new(StringComparer.Ordinal);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var key = RepositoryOf(request.RequestUri);
        if (_tokens.TryGetValue(key, out var cached))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", cached);
        }

        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Unauthorized || !CanResend(request)
            || Challenge.Parse(response.Headers.WwwAuthenticate) is not { } challenge)
        {
            return response;
        }

        // The challenge's small body is read now, so its connection goes back to the pool while
        // the token is fetched: clients that share a bounded pool would otherwise each hold one
        // connection while waiting for another, until none is left.
        await response.Content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
        if (RefusedRealm(request.RequestUri, challenge.Realm) is { } refusal)
        {
            response.Dispose();
            throw new OciRegistryException(
                $"the registry at {request.RequestUri?.GetLeftPart(UriPartial.Authority)} asks for a token from {challenge.Realm}, {refusal}; no credential was sent",
                HttpStatusCode.Unauthorized,
                []);
        }

        var token = await FetchTokenAsync(challenge, cancellationToken).ConfigureAwait(false);
        if (token is null)
        {
            return response;
        }

        response.Dispose();
        _tokens[key] = token;
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Why the credential may not go to <paramref name="realm"/>, or null when it may.</summary>
    private string? RefusedRealm(Uri? registry, Uri realm)
    {
        if (realm.Scheme == Uri.UriSchemeHttp && !realm.IsLoopback)
        {
            return "over plain HTTP to a host beyond loopback";
        }

        return SameOrigin(realm, registry) || _trusted.Any(trusted => SameOrigin(realm, trusted))
            ? null
            : "which is neither the registry's own origin nor a token service this client trusts";
    }

    private static bool SameOrigin(Uri a, Uri? b) =>
        b is not null
        && string.Equals(a.Scheme, b.Scheme, StringComparison.OrdinalIgnoreCase)
        && string.Equals(a.IdnHost, b.IdnHost, StringComparison.OrdinalIgnoreCase)
        && a.Port == b.Port;

    /// <summary>A streamed body cannot be sent twice; requests without one (or with buffered content) can.</summary>
    private static bool CanResend(HttpRequestMessage request) =>
        request.Content is null or ByteArrayContent;

    private async Task<string?> FetchTokenAsync(Challenge challenge, CancellationToken cancellationToken)
    {
        var secret = await credential(cancellationToken).ConfigureAwait(false);
        var query = new List<string>();
        if (challenge.Service is not null)
        {
            query.Add("service=" + Uri.EscapeDataString(challenge.Service));
        }

        if (challenge.Scope is not null)
        {
            query.Add("scope=" + Uri.EscapeDataString(challenge.Scope));
        }

        var uri = new UriBuilder(challenge.Realm) { Query = string.Join('&', query) }.Uri;
        using var tokenRequest = new HttpRequestMessage(HttpMethod.Get, uri);
        if (secret is not null)
        {
            tokenRequest.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        }

        using var response = await base.SendAsync(tokenRequest, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            var detail = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            throw new OciRegistryException(
                $"the registry's token service {challenge.Realm} refused the credential ({(int)response.StatusCode}): {detail}", response.StatusCode, []);
        }

        using var document = await JsonDocument.ParseAsync(
            await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), cancellationToken: cancellationToken).ConfigureAwait(false);
        return document.RootElement.TryGetProperty("token", out var token) || document.RootElement.TryGetProperty("access_token", out token)
            ? token.GetString()
            : null;
    }

    /// <summary>Tokens are scoped per repository: <c>/v2/NAME/(manifests|blobs|tags)/…</c>.</summary>
    private static string RepositoryOf(Uri? uri)
    {
        var path = uri?.AbsolutePath ?? string.Empty;
        foreach (var marker in (string[])["/manifests/", "/blobs/", "/tags/"])
        {
            var index = path.LastIndexOf(marker, StringComparison.Ordinal);
            if (index > 4 && path.StartsWith("/v2/", StringComparison.Ordinal))
            {
                return path[4..index];
            }
        }

        return string.Empty;
    }

    private sealed partial record Challenge(Uri Realm, string? Service, string? Scope)
    {
        public static Challenge? Parse(HttpHeaderValueCollection<AuthenticationHeaderValue> headers)
        {
            var bearer = headers.FirstOrDefault(h => string.Equals(h.Scheme, "Bearer", StringComparison.OrdinalIgnoreCase));
            if (bearer?.Parameter is null)
            {
                return null;
            }

            var values = Parameter().Matches(bearer.Parameter).ToDictionary(m => m.Groups[1].Value.ToLowerInvariant(), m => m.Groups[2].Value, StringComparer.Ordinal);
            return values.TryGetValue("realm", out var realm) && Uri.TryCreate(realm, UriKind.Absolute, out var realmUri)
                ? new Challenge(realmUri, values.GetValueOrDefault("service"), values.GetValueOrDefault("scope"))
                : null;
        }

        [GeneratedRegex("([A-Za-z]+)=\"([^\"]*)\"")]
        private static partial Regex Parameter();
    }
}
