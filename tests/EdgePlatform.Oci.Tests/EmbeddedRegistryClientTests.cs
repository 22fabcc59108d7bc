using System.Security.Cryptography;
using EdgePlatform.Contracts;

namespace EdgePlatform.Oci.Tests;

/// <summary>The client against the control plane's embedded registry.</summary>
public sealed class EmbeddedRegistryClientTests(EmbeddedRegistryFixture registry)
    : OciDistributionClientContract, IClassFixture<EmbeddedRegistryFixture>
{
    protected override OciDistributionClient Client { get; } = new(registry.Http, registry.Registry);

    [Fact]
    public async Task PushBlobAsync_LargerThanKestrelsDefaultRequestLimit_IsStored()
    {
        // Kestrel refuses bodies over 30 MB unless the endpoint lifts the limit; the registry caps blobs itself.
        var content = new byte[40 * 1024 * 1024];
        RandomNumberGenerator.Fill(content.AsSpan(0, 4096));
        var repository = NewRepository();

        var descriptor = await Client.PushBlobAsync(repository, content, MediaTypes.Onnx, CancellationToken.None);

        Assert.Equal(ContentDigest.Compute(content), descriptor.Digest);
        Assert.True(await Client.BlobExistsAsync(repository, descriptor.Digest, CancellationToken.None));
    }
}
