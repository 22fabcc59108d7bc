using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using EdgePlatform.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace EdgePlatform.ControlPlane.Host.Tests.Apis;

[Collection(MetricsScrapers.Name)]
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

    [Fact]
    public async Task GetBlob_WholeAndRanged_MetricsCountExactlyTheBytesSent()
    {
        using var client = server.CreateClient();
        var content = RandomNumberGenerator.GetBytes(50_000);
        var digest = ContentDigest.Compute(content);
        using (var push = await client.PostAsync(new Uri($"/v2/tests/metrics/blobs/uploads/?digest={digest}", UriKind.Relative), new ByteArrayContent(content)))
        {
            Assert.Equal(HttpStatusCode.Created, push.StatusCode);
        }

        var before = await BlobBytesServedAsync(client);
        using (var head = new HttpRequestMessage(HttpMethod.Head, new Uri($"/v2/tests/metrics/blobs/{digest}", UriKind.Relative)))
        using (var headResponse = await client.SendAsync(head))
        {
            Assert.Equal(HttpStatusCode.OK, headResponse.StatusCode);
        }

        Assert.Equal(content, await client.GetByteArrayAsync(new Uri($"/v2/tests/metrics/blobs/{digest}", UriKind.Relative)));
        using var ranged = new HttpRequestMessage(HttpMethod.Get, new Uri($"/v2/tests/metrics/blobs/{digest}", UriKind.Relative));
        ranged.Headers.Range = new RangeHeaderValue(100, 1099);
        using (var rangedResponse = await client.SendAsync(ranged))
        {
            Assert.Equal(HttpStatusCode.PartialContent, rangedResponse.StatusCode);
            Assert.Equal(1000, (await rangedResponse.Content.ReadAsByteArrayAsync()).Length);
        }

        // The exporter caches a scrape briefly: read until the count moves, then it must be exact.
        var expected = before + content.Length + 1000;
        var served = before;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while ((served = await BlobBytesServedAsync(client)) < expected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Equal(expected, served);
    }

    [Fact]
    public async Task GetBlob_ThroughAnotherRepository_Returns404AndThroughItsOwn200()
    {
        using var client = server.CreateClient();
        var content = RandomNumberGenerator.GetBytes(1000);
        var digest = ContentDigest.Compute(content);
        using (var push = await client.PostAsync(new Uri($"/v2/tests/scoped-a/blobs/uploads/?digest={digest}", UriKind.Relative), new ByteArrayContent(content)))
        {
            Assert.Equal(HttpStatusCode.Created, push.StatusCode);
        }

        using var own = await client.GetAsync(new Uri($"/v2/tests/scoped-a/blobs/{digest}", UriKind.Relative));
        using var other = await client.GetAsync(new Uri($"/v2/tests/scoped-b/blobs/{digest}", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        Assert.Contains("BLOB_UNKNOWN", await other.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetBlob_ModelLayers_OnlyThroughTheirModelsRepositoryAndNoOtherStoredFile()
    {
        var artifacts = server.Services.GetRequiredService<EdgePlatform.ControlPlane.Ports.IArtifactStore>();
        var modelStore = server.Services.GetRequiredService<EdgePlatform.ControlPlane.Ports.IModelStore>();
        var onnx = RandomNumberGenerator.GetBytes(500);
        var onnxDigest = await artifacts.PutAsync(onnx, CancellationToken.None);
        var dataset = await artifacts.PutAsync(RandomNumberGenerator.GetBytes(700), CancellationToken.None);
        var config = await artifacts.PutAsync("{}"u8.ToArray(), CancellationToken.None);
        var manifest = JsonSerializer.SerializeToUtf8Bytes(
            new OciManifest(2, MediaTypes.OciManifest, MediaTypes.ModelArtifact, new OciDescriptor(MediaTypes.ModelCard, config, 2), [new OciDescriptor(MediaTypes.Onnx, onnxDigest, onnx.Length)]),
            ContractsJsonContext.Default.OciManifest);
        var manifestDigest = await artifacts.PutAsync(manifest, CancellationToken.None);
        foreach (var name in new[] { "scoped-model", "scoped-other" })
        {
            await modelStore.AddModelAsync(
                new EdgePlatform.ControlPlane.Ports.ModelRecord("models/" + name, name, "1", name == "scoped-model" ? manifestDigest : config, manifest.Length, onnxDigest, onnx.Length, "c2ln", new Dictionary<string, double>(), DateTimeOffset.UtcNow),
                CancellationToken.None);
        }

        using var client = server.CreateClient();

        Assert.Equal(onnx, await client.GetByteArrayAsync(new Uri($"/v2/models/scoped-model/blobs/{onnxDigest}", UriKind.Relative)));
        using var otherModel = await client.GetAsync(new Uri($"/v2/models/scoped-other/blobs/{onnxDigest}", UriKind.Relative));
        using var storedFile = await client.GetAsync(new Uri($"/v2/models/scoped-model/blobs/{dataset}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, otherModel.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, storedFile.StatusCode);
    }

    private static async Task<long> BlobBytesServedAsync(HttpClient client)
    {
        var metrics = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        // Servers of other test classes in this process feed the same meter name: read this repository's series only.
        var match = Regex.Match(metrics, @"^edgeplatform_registry_served_bytes_total\{(?=[^}]*kind=""blob"")(?=[^}]*repository=""tests/metrics"")[^}]*\} (\d+)", RegexOptions.Multiline);
        return match.Success ? long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    internal static async Task<string> ErrorCodeAsync(HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.GetProperty("errors")[0].GetProperty("code").GetString()!;
    }
}
