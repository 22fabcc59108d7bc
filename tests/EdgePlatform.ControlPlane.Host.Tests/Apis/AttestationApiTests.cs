using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.Security.Attestation;

namespace EdgePlatform.ControlPlane.Host.Tests.Apis;

/// <summary>
/// Attestation over HTTP and the registry's token authentication: pulls need a registry token,
/// which an attested device gets for its attestation token and a device that failed does not.
/// </summary>
public sealed class AttestationApiTests : IAsyncLifetime
{
    private static readonly string AllowedBuild = "sha256:" + new string('a', 64);
    private readonly ControlPlaneFactory _server = ControlPlaneFactory.With(new Dictionary<string, string>
    {
        ["Attestation:AllowedAgentBuilds:production:0"] = AllowedBuild,
    });

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Pull_WithoutAToken_Returns401WithTheTokenChallenge()
    {
        using var anonymous = _server.CreateAnonymousClient();

        using var response = await anonymous.GetAsync(new Uri("/v2/models/sensor-anomaly/manifests/1", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var challenge = response.Headers.WwwAuthenticate.Single();
        Assert.Equal("Bearer", challenge.Scheme);
        Assert.Contains("/api/v1/registry/token\"", challenge.Parameter, StringComparison.Ordinal);
        Assert.Contains("service=\"edgeplatform-registry\"", challenge.Parameter, StringComparison.Ordinal);
        Assert.Contains("scope=\"repository:models/sensor-anomaly:pull\"", challenge.Parameter, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RegistryToken_WithoutACredential_Returns401()
    {
        using var anonymous = _server.CreateAnonymousClient();

        using var response = await anonymous.GetAsync(new Uri("/api/v1/registry/token?service=edgeplatform-registry&scope=repository:models/m:pull", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task AttestedDevice_PullsWithItsTokenUntilItFailsAttestation()
    {
        using var device = await _server.EnrollAsync("dev-attest");
        using var anonymous = _server.CreateAnonymousClient();
        var attested = await AttestAsync(anonymous, device, AllowedBuild);
        Assert.Equal(HttpStatusCode.OK, attested.StatusCode);
        var token = (await attested.Content.ReadFromJsonAsync(ContractsJsonContext.Default.AttestationResult))!.Token;

        // No model is published on this server: an authorized pull is told the name is unknown.
        Assert.Equal(HttpStatusCode.NotFound, await PullStatusAsync(anonymous, token));

        using var refused = await AttestAsync(anonymous, device, "sha256:" + new string('e', 64));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("measurement check failed: agent build", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.Unauthorized, await PullStatusAsync(anonymous, token));
        using var admin = _server.CreateClient();
        var info = await admin.GetFromJsonAsync(new Uri("/api/v1/devices/dev-attest", UriKind.Relative), ContractsJsonContext.Default.DeviceInfo);
        Assert.Equal(AttestationStates.Failed, info!.Attestation!.State);
        Assert.Contains("not allowed on channel 'production'", info.Attestation.Reason, StringComparison.Ordinal);
    }

    /// <summary>Trades the attestation token for a registry token, then lists tags with it: the status of that pull.</summary>
    private static async Task<HttpStatusCode> PullStatusAsync(HttpClient client, string attestationToken)
    {
        using var tokenRequest = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/v1/registry/token?service=edgeplatform-registry&scope=repository:models/sensor-anomaly:pull", UriKind.Relative));
        tokenRequest.Headers.Authorization = new AuthenticationHeaderValue("Bearer", attestationToken);
        using var tokenResponse = await client.SendAsync(tokenRequest);
        if (!tokenResponse.IsSuccessStatusCode)
        {
            return tokenResponse.StatusCode;
        }

        var registryToken = (await tokenResponse.Content.ReadFromJsonAsync(ContractsJsonContext.Default.RegistryTokenResponse))!.Token;
        using var pull = new HttpRequestMessage(HttpMethod.Get, new Uri("/v2/models/sensor-anomaly/tags/list", UriKind.Relative));
        pull.Headers.Authorization = new AuthenticationHeaderValue("Bearer", registryToken);
        using var response = await client.SendAsync(pull);
        return response.StatusCode;
    }

    private static async Task<HttpResponseMessage> AttestAsync(HttpClient client, TestDevice device, string build)
    {
        using var nonceResponse = await client.PostAsJsonAsync(
            new Uri("/api/v1/attestation/nonce", UriKind.Relative), new AttestationNonceRequest(device.Id), ContractsJsonContext.Default.AttestationNonceRequest);
        nonceResponse.EnsureSuccessStatusCode();
        var nonce = (await nonceResponse.Content.ReadFromJsonAsync(ContractsJsonContext.Default.AttestationNonce))!;
        var evidence = JsonSerializer.SerializeToUtf8Bytes(
            new AttestationEvidence(
                device.Id, nonce.Nonce, "production", "1.0.0",
                [new Measurement(MeasurementKinds.AgentBuild, "edgeplatform-agent", build)],
                new PlatformFacts("linux", "x64", ".NET", "test", false),
                DateTimeOffset.UtcNow),
            ContractsJsonContext.Default.AttestationEvidence);
        var signer = new SoftwareEvidenceSigner(device.Key);
        return await client.PostAsJsonAsync(
            new Uri("/api/v1/attestation", UriKind.Relative),
            new AttestationRequest(signer.Format, Convert.ToBase64String(evidence), Convert.ToBase64String(signer.Sign(evidence))),
            ContractsJsonContext.Default.AttestationRequest);
    }
}
