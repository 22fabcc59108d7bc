using System.Net;

namespace EdgePlatform.ControlPlane.Host.Tests.Hosting;

/// <summary>Behind a proxy, devices are sent to the public URL, never to the internal bind address.</summary>
public sealed class PublicBaseUrlTests : IAsyncLifetime
{
    private const string PublicUrl = "https://edge.example.com:8443";
    private readonly ControlPlaneFactory _server = ControlPlaneFactory.With(new Dictionary<string, string> { ["Server:PublicBaseUrl"] = PublicUrl + "/" });

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task RegistryChallenge_NamesTheTokenServiceAtThePublicUrl()
    {
        using var anonymous = _server.CreateAnonymousClient();

        using var response = await anonymous.GetAsync(new Uri("/v2/models/sensor-anomaly/manifests/1", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.StartsWith($"realm=\"{PublicUrl}/api/v1/registry/token\"", response.Headers.WwwAuthenticate.Single().Parameter, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Enrollment_SendsDevicesToThePublicUrlForModelsAndMetadata()
    {
        using var device = await _server.EnrollAsync("behind-proxy");

        Assert.Equal(PublicUrl, device.Enrollment.RegistryUrl);
        Assert.Equal(PublicUrl, device.Enrollment.MetadataUrl);
    }
}
