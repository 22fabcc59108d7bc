using System.Net;
using System.Text.Json;

namespace EdgePlatform.ControlPlane.Host.Tests.Apis;

public sealed class RegistryApiTests(ControlPlaneFactory server) : IClassFixture<ControlPlaneFactory>
{
    private static readonly string ZeroDigest = "sha256:" + new string('0', 64);

    [Fact]
    public async Task GetBase_Returns200WithTheDistributionApiVersion()
    {
        using var client = server.CreateClient();

        using var response = await client.GetAsync(new Uri("/v2/", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("registry/2.0", Assert.Single(response.Headers.GetValues("Docker-Distribution-API-Version")));
    }

    [Fact]
    public async Task GetBlob_UnknownDigest_Returns404BlobUnknown()
    {
        using var client = server.CreateClient();

        using var response = await client.GetAsync(new Uri($"/v2/models/x/blobs/{ZeroDigest}", UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("BLOB_UNKNOWN", await ErrorCodeAsync(response));
    }

    [Theory]
    [InlineData("sha256:abc")]
    [InlineData("sha256:..%2F..%2F..%2Fenrollment.key")]
    [InlineData("md5:0123456789abcdef0123456789abcdef")]
    public async Task GetBlob_MalformedDigest_Returns400DigestInvalid(string digest)
    {
        using var client = server.CreateClient();

        using var response = await client.GetAsync(new Uri($"/v2/models/x/blobs/{digest}", UriKind.Relative));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("DIGEST_INVALID", await ErrorCodeAsync(response));
    }

    [Theory]
    [InlineData("/v2/models/x/manifests/1")]
    [InlineData("/v2/models/x/manifests/sha256:0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("/v2/other/x/manifests/latest")]
    public async Task GetManifest_Unknown_Returns404ManifestUnknown(string path)
    {
        using var client = server.CreateClient();

        using var response = await client.GetAsync(new Uri(path, UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("MANIFEST_UNKNOWN", await ErrorCodeAsync(response));
    }

    [Fact]
    public async Task Get_PathWithoutRegistryRoute_Returns404NameUnknown()
    {
        using var client = server.CreateClient();

        using var response = await client.GetAsync(new Uri("/v2/models/x/tags/list", UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("NAME_UNKNOWN", await ErrorCodeAsync(response));
    }

    internal static async Task<string> ErrorCodeAsync(HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.GetProperty("errors")[0].GetProperty("code").GetString()!;
    }
}
