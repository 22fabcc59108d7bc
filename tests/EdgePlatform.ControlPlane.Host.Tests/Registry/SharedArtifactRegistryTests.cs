using System.Net;
using System.Security.Cryptography;
using Azure.Storage.Blobs;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Tests.Datasets;

namespace EdgePlatform.ControlPlane.Host.Tests.Registry;

/// <summary>
/// Two control-plane replicas over one Azurite container: what is pushed to one's registry is
/// pulled from the other's. They share the SQLite file (one data directory) for the registry's
/// manifest index and the keys its tokens are signed with, as replicas share PostgreSQL and key material.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SharedArtifactRegistryTests : IAsyncLifetime
{
    private const string Repository = "tests/replicas";

    private readonly string _connectionString = TestServices.Require(TestServices.Azurite, "Azurite");
    private readonly string _container = "registry-" + Guid.NewGuid().ToString("N");
    private ControlPlaneFactory _first = null!;
    private ControlPlaneFactory _second = null!;

    public Task InitializeAsync()
    {
        var settings = new Dictionary<string, string>
        {
            ["Artifacts:Provider"] = "azure",
            ["Artifacts:ConnectionString"] = _connectionString,
            ["Artifacts:Container"] = _container,
        };
        _first = ControlPlaneFactory.With(settings);
        _ = _first.Services;
        _second = ControlPlaneFactory.Over(_first.DataDirectory, settings);
        _ = _second.Services;
        return Task.CompletedTask;
    }

    [Fact]
    public async Task PushToOneReplica_PulledFromTheOther_SameBytes()
    {
        using var pushing = _first.CreateClient();
        using var pulling = _second.CreateClient();
        var content = RandomNumberGenerator.GetBytes(5 * 1024 * 1024 + 3);
        var digest = ContentDigest.Compute(content);

        var location = await BlobUploadApiTests.StartAsync(pushing, Repository);
        using (var body = BlobUploadApiTests.Octets(content))
        using (var put = await pushing.PutAsync(BlobUploadApiTests.Url($"{location}?digest={digest}"), body))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        using var head = await pulling.SendAsync(new HttpRequestMessage(HttpMethod.Head, BlobUploadApiTests.Url($"/v2/{Repository}/blobs/{digest}")));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(content.Length, head.Content.Headers.ContentLength);
        Assert.Equal(content, await pulling.GetByteArrayAsync(BlobUploadApiTests.Url($"/v2/{Repository}/blobs/{digest}")));
        Assert.False(File.Exists(Path.Combine(_first.DataDirectory, "blobs", "sha256", ContentDigest.Hex(digest))), "the blob went to the data directory, not the shared container");
    }

    [Fact]
    public async Task PushWithWrongDigest_RefusedAndNeitherReplicaServesIt()
    {
        using var pushing = _first.CreateClient();
        using var pulling = _second.CreateClient();
        var claimed = ContentDigest.Compute(RandomNumberGenerator.GetBytes(32));

        using (var body = BlobUploadApiTests.Octets(RandomNumberGenerator.GetBytes(32)))
        using (var refused = await pushing.PostAsync(BlobUploadApiTests.Url($"/v2/{Repository}/blobs/uploads/?digest={claimed}"), body))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Equal("DIGEST_INVALID", await BlobUploadApiTests.ErrorCodeAsync(refused));
        }

        using var head = await pulling.SendAsync(new HttpRequestMessage(HttpMethod.Head, BlobUploadApiTests.Url($"/v2/{Repository}/blobs/{claimed}")));
        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
    }

    public async Task DisposeAsync()
    {
        await _second.DisposeAsync();
        await _first.DisposeAsync();
        await new BlobServiceClient(_connectionString).GetBlobContainerClient(_container).DeleteIfExistsAsync();
    }
}
