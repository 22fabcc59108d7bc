using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EdgePlatform.Contracts;
using Microsoft.Extensions.DependencyInjection;
using static EdgePlatform.ControlPlane.Host.Tests.Registry.BlobUploadApiTests;

namespace EdgePlatform.ControlPlane.Host.Tests.Registry;

public sealed class ManifestPushApiTests(RegistryServerFactory server) : IClassFixture<RegistryServerFactory>
{
    [Fact]
    public async Task PutManifest_ByTag_IsServedByTagAndDigestAndListed()
    {
        using var client = server.CreateClient();
        var manifest = await PushBlobsAndDescribeAsync(client, "tests/tagged");

        using var put = await PutManifestAsync(client, "tests/tagged", "v1", manifest);

        var digest = ContentDigest.Compute(manifest);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal(digest, Assert.Single(put.Headers.GetValues("Docker-Content-Digest")));
        Assert.Equal($"/v2/tests/tagged/manifests/{digest}", put.Headers.Location?.OriginalString);
        using var byTag = await client.GetAsync(Url("/v2/tests/tagged/manifests/v1"));
        Assert.Equal(manifest, await byTag.Content.ReadAsByteArrayAsync());
        Assert.Equal(MediaTypes.OciManifest, byTag.Content.Headers.ContentType?.MediaType);
        Assert.Equal(digest, Assert.Single(byTag.Headers.GetValues("Docker-Content-Digest")));
        Assert.Equal(manifest, await client.GetByteArrayAsync(Url($"/v2/tests/tagged/manifests/{digest}")));
        using var tags = JsonDocument.Parse(await client.GetStringAsync(Url("/v2/tests/tagged/tags/list")));
        Assert.Equal("tests/tagged", tags.RootElement.GetProperty("name").GetString());
        Assert.Equal(["v1"], tags.RootElement.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
    }

    [Fact]
    public async Task PutManifest_Pushed_IsInTheAuditLogUnderThePushersName()
    {
        using var client = server.CreateClient();
        var manifest = await PushBlobsAndDescribeAsync(client, "tests/audited");

        using var put = await PutManifestAsync(client, "tests/audited", "v1", manifest);

        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        var audit = await server.Services.GetRequiredService<EdgePlatform.ControlPlane.Access.AccessService>().ReadAuditAsync(100, CancellationToken.None);
        var entry = Assert.Single(audit, e => e.Action == "PUT /v2/tests/audited/manifests/v1");
        Assert.Equal(("initial-admin", 201), (entry.Actor, entry.Status));
        Assert.DoesNotContain(audit, e => e.Action.Contains("/v2/tests/audited/blobs/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PutManifest_SameTagAgain_MovesTheTagToTheNewManifest()
    {
        using var client = server.CreateClient();
        var first = await PushBlobsAndDescribeAsync(client, "tests/moving");
        var second = await PushBlobsAndDescribeAsync(client, "tests/moving");
        (await PutManifestAsync(client, "tests/moving", "latest", first)).Dispose();

        (await PutManifestAsync(client, "tests/moving", "latest", second)).Dispose();

        Assert.Equal(second, await client.GetByteArrayAsync(Url("/v2/tests/moving/manifests/latest")));
        Assert.Equal(first, await client.GetByteArrayAsync(Url($"/v2/tests/moving/manifests/{ContentDigest.Compute(first)}")));
    }

    [Fact]
    public async Task PutManifest_ByItsDigest_IsServedByDigestOnly()
    {
        using var client = server.CreateClient();
        var manifest = await PushBlobsAndDescribeAsync(client, "tests/untagged");
        var digest = ContentDigest.Compute(manifest);

        using var put = await PutManifestAsync(client, "tests/untagged", digest, manifest);

        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal(manifest, await client.GetByteArrayAsync(Url($"/v2/tests/untagged/manifests/{digest}")));
        using var elsewhere = await client.GetAsync(Url($"/v2/tests/other-repository/manifests/{digest}"));
        Assert.Equal(HttpStatusCode.NotFound, elsewhere.StatusCode);
    }

    [Fact]
    public async Task PutManifest_DigestReferenceNotTheBodysDigest_Returns400DigestInvalid()
    {
        using var client = server.CreateClient();
        var manifest = await PushBlobsAndDescribeAsync(client, "tests/digest");

        using var put = await PutManifestAsync(client, "tests/digest", ContentDigest.Compute([1, 2, 3]), manifest);

        Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
        Assert.Equal("DIGEST_INVALID", await ErrorCodeAsync(put));
    }

    [Fact]
    public async Task PutManifest_ReferencedBlobMissing_Returns400ManifestBlobUnknownNamingIt()
    {
        using var client = server.CreateClient();
        var config = await PushBlobAsync(client, "tests/missing", "{}"u8.ToArray());
        var absent = ContentDigest.Compute(RandomNumberGenerator.GetBytes(16));
        var manifest = Manifest(config, new OciDescriptor(MediaTypes.Onnx, absent, 16));

        using var put = await PutManifestAsync(client, "tests/missing", "v1", manifest);

        Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
        Assert.Equal("MANIFEST_BLOB_UNKNOWN", await ErrorCodeAsync(put));
        Assert.Contains(absent, await put.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var get = await client.GetAsync(Url("/v2/tests/missing/manifests/v1"));
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Fact]
    public async Task PutManifest_DescriptorSizeWrong_Returns400ManifestInvalid()
    {
        using var client = server.CreateClient();
        var config = await PushBlobAsync(client, "tests/size", "{}"u8.ToArray());
        var layer = await PushBlobAsync(client, "tests/size", RandomNumberGenerator.GetBytes(64));

        using var put = await PutManifestAsync(client, "tests/size", "v1", Manifest(config, layer with { Size = 65 }));

        Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
        Assert.Equal("MANIFEST_INVALID", await ErrorCodeAsync(put));
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("application/vnd.docker.distribution.manifest.v2+json")]
    public async Task PutManifest_NotAnOciManifestMediaType_Returns400ManifestInvalid(string contentType)
    {
        using var client = server.CreateClient();
        var manifest = await PushBlobsAndDescribeAsync(client, "tests/media-type");

        using var put = await PutManifestAsync(client, "tests/media-type", "v1", manifest, contentType);

        Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
        Assert.Equal("MANIFEST_INVALID", await ErrorCodeAsync(put));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("""{"schemaVersion":1,"config":{},"layers":[]}""")]
    [InlineData("""{"schemaVersion":2,"layers":[]}""")]
    public async Task PutManifest_NotAWellFormedManifest_Returns400ManifestInvalid(string body)
    {
        using var client = server.CreateClient();

        using var put = await PutManifestAsync(client, "tests/malformed", "v1", Encoding.UTF8.GetBytes(body));

        Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
        Assert.Equal("MANIFEST_INVALID", await ErrorCodeAsync(put));
    }

    [Fact]
    public async Task PutManifest_InvalidTag_Returns400TagInvalid()
    {
        using var client = server.CreateClient();
        var manifest = await PushBlobsAndDescribeAsync(client, "tests/bad-tag");

        using var put = await PutManifestAsync(client, "tests/bad-tag", ".hidden", manifest);

        Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
        Assert.Equal("TAG_INVALID", await ErrorCodeAsync(put));
    }

    [Fact]
    public async Task GetTags_Paged_FollowsNAndLastWithALinkToTheNextPage()
    {
        using var client = server.CreateClient();
        var manifest = await PushBlobsAndDescribeAsync(client, "tests/paged");
        foreach (var tag in new[] { "c", "a", "b" })
        {
            (await PutManifestAsync(client, "tests/paged", tag, manifest)).Dispose();
        }

        using var first = await client.GetAsync(Url("/v2/tests/paged/tags/list?n=2"));
        using var rest = await client.GetAsync(Url("/v2/tests/paged/tags/list?n=2&last=b"));

        Assert.Equal(["a", "b"], await TagsAsync(first));
        Assert.Equal("</v2/tests/paged/tags/list?n=2&last=b>; rel=\"next\"", Assert.Single(first.Headers.GetValues("Link")));
        Assert.Equal(["c"], await TagsAsync(rest));
        Assert.False(rest.Headers.Contains("Link"));
    }

    [Fact]
    public async Task PushedTag_AfterARestart_IsStillServed()
    {
        var directory = Directory.CreateTempSubdirectory("edgeplatform-registry-restart-").FullName;
        try
        {
            byte[] manifest;
            await using (var first = RegistryServerFactory.Over(directory))
            {
                using var client = first.CreateClient();
                manifest = await PushBlobsAndDescribeAsync(client, "tests/restart");
                (await PutManifestAsync(client, "tests/restart", "v1", manifest)).Dispose();
            }

            await using var second = RegistryServerFactory.Over(directory);
            using var again = second.CreateClient();

            Assert.Equal(manifest, await again.GetByteArrayAsync(Url("/v2/tests/restart/manifests/v1")));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<byte[]> PushBlobsAndDescribeAsync(HttpClient client, string repository)
    {
        var config = await PushBlobAsync(client, repository, JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["name"] = "m" }));
        var layer = await PushBlobAsync(client, repository, RandomNumberGenerator.GetBytes(64));
        return Manifest(config with { MediaType = MediaTypes.ModelCard }, layer);
    }

    private static async Task<OciDescriptor> PushBlobAsync(HttpClient client, string repository, byte[] content)
    {
        var digest = ContentDigest.Compute(content);
        using var response = await client.PostAsync(Url($"/v2/{repository}/blobs/uploads/?digest={digest}"), Octets(content));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return new OciDescriptor(MediaTypes.Onnx, digest, content.Length);
    }

    private static byte[] Manifest(OciDescriptor config, OciDescriptor layer) =>
        JsonSerializer.SerializeToUtf8Bytes(
            new OciManifest(2, MediaTypes.OciManifest, MediaTypes.ModelArtifact, config, [layer]),
            ContractsJsonContext.Default.OciManifest);

    private static async Task<HttpResponseMessage> PutManifestAsync(HttpClient client, string repository, string reference, byte[] manifest, string contentType = MediaTypes.OciManifest)
    {
        using var body = new ByteArrayContent(manifest);
        body.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        return await client.PutAsync(Url($"/v2/{repository}/manifests/{reference}"), body);
    }

    private static async Task<string[]> TagsAsync(HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return [.. document.RootElement.GetProperty("tags").EnumerateArray().Select(t => t.GetString()!)];
    }
}
