using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using EdgePlatform.Contracts;

namespace EdgePlatform.Oci.Tests;

/// <summary>
/// What the client must do against any conforming registry; run against the embedded registry
/// and the CNCF distribution registry by the classes deriving from this one.
/// </summary>
public abstract class OciDistributionClientContract
{
    private readonly CancellationToken _none = CancellationToken.None;

    protected abstract OciDistributionClient Client { get; }

    [Fact]
    public async Task PushBlobAsync_Monolithic_ReadsBackAndIsNotUploadedTwice()
    {
        var repository = NewRepository();
        var content = RandomNumberGenerator.GetBytes(10_000);

        var descriptor = await Client.PushBlobAsync(repository, content, MediaTypes.Onnx, _none);

        Assert.Equal(new OciDescriptor(MediaTypes.Onnx, ContentDigest.Compute(content), content.Length), descriptor);
        Assert.True(await Client.BlobExistsAsync(repository, descriptor.Digest, _none));
        Assert.Equal(content, await Client.GetBlobAsync(repository, descriptor.Digest, _none));
        using var again = new MemoryStream(content);
        Assert.False(await Client.PushBlobAsync(repository, descriptor.Digest, again, content.Length, _none));
        Assert.Equal(0, again.Position);
    }

    [Fact]
    public async Task PushBlobChunkedAsync_ContentOverSeveralChunks_StoresTheWholeBlob()
    {
        var repository = NewRepository();
        var content = RandomNumberGenerator.GetBytes(25_000);
        using var stream = new MemoryStream(content);

        var descriptor = await Client.PushBlobChunkedAsync(repository, stream, MediaTypes.Onnx, chunkSize: 10_000, _none);

        Assert.Equal(ContentDigest.Compute(content), descriptor.Digest);
        Assert.Equal(content.Length, descriptor.Size);
        Assert.Equal(content, await Client.GetBlobAsync(repository, descriptor.Digest, _none));
    }

    [Fact]
    public async Task PushBlobAsync_DigestNotOfTheContent_ThrowsDigestInvalidAndStoresNothing()
    {
        var repository = NewRepository();
        var content = RandomNumberGenerator.GetBytes(1_000);
        var claimed = ContentDigest.Compute(RandomNumberGenerator.GetBytes(1_000));
        using var stream = new MemoryStream(content);

        var error = await Assert.ThrowsAsync<OciRegistryException>(() => Client.PushBlobAsync(repository, claimed, stream, content.Length, _none));

        Assert.Equal("DIGEST_INVALID", error.ErrorCode);
        Assert.Equal(HttpStatusCode.BadRequest, error.StatusCode);
        Assert.False(await Client.BlobExistsAsync(repository, claimed, _none));
    }

    [Fact]
    public async Task PushManifestAsync_ReferencedBlobMissing_ThrowsManifestBlobUnknown()
    {
        var repository = NewRepository();
        var config = await Client.PushBlobAsync(repository, OciMediaTypes.EmptyJson, MediaTypes.OciEmptyConfig, _none);
        var missing = new OciDescriptor(MediaTypes.Onnx, ContentDigest.Compute(RandomNumberGenerator.GetBytes(32)), 32);
        var manifest = Serialize(new OciManifest(2, MediaTypes.OciManifest, MediaTypes.ModelArtifact, config, [missing]));

        var error = await Assert.ThrowsAsync<OciRegistryException>(() => Client.PushManifestAsync(repository, "1.0.0", manifest, MediaTypes.OciManifest, _none));

        Assert.Equal("MANIFEST_BLOB_UNKNOWN", error.ErrorCode);
        Assert.Empty(await Client.TagsAsync(repository, _none));
    }

    [Fact]
    public async Task ModelPackage_PushedThenPulledByDigest_EveryPartVerifies()
    {
        var repository = NewRepository();
        var onnx = RandomNumberGenerator.GetBytes(20_000);

        var (digest, manifest, parts) = await PushModelPackageAsync(repository, onnx);

        var pulled = await Client.GetManifestAsync(repository, digest, _none);
        Assert.Equal(manifest, pulled.Content);
        Assert.Equal(digest, pulled.Digest);
        Assert.Equal(MediaTypes.OciManifest, pulled.MediaType);
        var read = JsonSerializer.Deserialize(pulled.Content, ContractsJsonContext.Default.OciManifest)!;
        Assert.Equal(MediaTypes.ModelArtifact, read.ArtifactType);
        Assert.Equal(MediaTypes.ModelCard, read.Config.MediaType);
        Assert.Equal(parts[read.Config.Digest], await Client.GetBlobAsync(repository, read.Config.Digest, _none));
        var layer = Assert.Single(read.Layers);
        Assert.Equal("model.onnx", layer.Annotations?[OciManifest.TitleAnnotation]);
        Assert.Equal(onnx, await Client.GetBlobAsync(repository, layer.Digest, _none));
        Assert.Equal(digest, (await Client.GetManifestAsync(repository, "1.0.0", _none)).Digest);
        Assert.Contains("1.0.0", await Client.TagsAsync(repository, _none));
    }

    [Fact]
    public async Task OpenBlobAsync_FromAnOffset_ResumesWhereAnEarlierReadStopped()
    {
        var repository = NewRepository();
        var content = RandomNumberGenerator.GetBytes(50_000);
        var descriptor = await Client.PushBlobAsync(repository, content, MediaTypes.Onnx, _none);
        var received = new byte[content.Length];

        // The first download breaks off after 12 345 bytes.
        var first = await Client.OpenBlobAsync(repository, descriptor.Digest, 0, _none);
        await using (first)
        {
            await first.ReadExactlyAsync(received.AsMemory(0, 12_345), _none);
        }

        var rest = await Client.OpenBlobAsync(repository, descriptor.Digest, 12_345, _none);
        await using (rest)
        {
            await rest.ReadExactlyAsync(received.AsMemory(12_345), _none);
            Assert.Equal(0, await rest.ReadAsync(new byte[1], _none));
        }

        Assert.Equal(descriptor.Digest, ContentDigest.Compute(received));
    }

    [Fact]
    public async Task OpenBlobAsync_OffsetPastTheEnd_ThrowsRangeNotSatisfiable()
    {
        var repository = NewRepository();
        var descriptor = await Client.PushBlobAsync(repository, RandomNumberGenerator.GetBytes(100), MediaTypes.Onnx, _none);

        var error = await Assert.ThrowsAsync<OciRegistryException>(() => Client.OpenBlobAsync(repository, descriptor.Digest, 100, _none));

        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, error.StatusCode);
    }

    [Fact]
    public async Task Signature_PushedForAManifest_ReadsBackThroughTheSigTag()
    {
        var repository = NewRepository();
        var (digest, _, _) = await PushModelPackageAsync(repository, RandomNumberGenerator.GetBytes(1_000));
        var (unsigned, _, _) = await PushModelPackageAsync(repository, RandomNumberGenerator.GetBytes(1_000), tag: "2.0.0");
        var cms = RandomNumberGenerator.GetBytes(1_500);

        var signatureDigest = await Client.PushSignatureAsync(repository, digest, cms, _none);

        Assert.Equal(cms, await Client.GetSignatureAsync(repository, digest, _none));
        Assert.Null(await Client.GetSignatureAsync(repository, unsigned, _none));
        var tag = $"sha256-{ContentDigest.Hex(digest)}.sig";
        Assert.Contains(tag, await Client.TagsAsync(repository, _none));
        var stored = await Client.GetManifestAsync(repository, tag, _none);
        Assert.Equal(signatureDigest, stored.Digest);
        using var document = JsonDocument.Parse(stored.Content);
        var root = document.RootElement;
        Assert.Equal(OciMediaTypes.SignatureArtifact, root.GetProperty("artifactType").GetString());
        Assert.Equal(MediaTypes.OciEmptyConfig, root.GetProperty("config").GetProperty("mediaType").GetString());
        Assert.Equal(OciMediaTypes.EmptyJsonDigest, root.GetProperty("config").GetProperty("digest").GetString());
        Assert.Equal(MediaTypes.CmsSignature, root.GetProperty("layers")[0].GetProperty("mediaType").GetString());
        Assert.Equal(digest, root.GetProperty("subject").GetProperty("digest").GetString());
    }

    [Fact]
    public async Task PushSignatureAsync_ManifestNotInTheRepository_ThrowsManifestUnknown()
    {
        var repository = NewRepository();
        var absent = ContentDigest.Compute(RandomNumberGenerator.GetBytes(32));

        var error = await Assert.ThrowsAsync<OciRegistryException>(() => Client.PushSignatureAsync(repository, absent, new byte[] { 1, 2, 3 }, _none));

        Assert.Equal("MANIFEST_UNKNOWN", error.ErrorCode);
    }

    [Fact]
    public async Task GetManifestAsync_UnknownTag_ThrowsManifestUnknown()
    {
        var repository = NewRepository();
        await PushModelPackageAsync(repository, RandomNumberGenerator.GetBytes(100));

        var error = await Assert.ThrowsAsync<OciRegistryException>(() => Client.GetManifestAsync(repository, "9.9.9", _none));

        Assert.Equal("MANIFEST_UNKNOWN", error.ErrorCode);
        Assert.Equal(HttpStatusCode.NotFound, error.StatusCode);
    }

    [Fact]
    public async Task TagsAsync_RepositoryNeverPushed_ReturnsNoTags()
    {
        Assert.Empty(await Client.TagsAsync(NewRepository(), _none));
    }

    /// <summary>A repository of its own per test, so tests share a registry without seeing each other.</summary>
    protected static string NewRepository() => $"edgeplatform-tests/{Guid.NewGuid():N}";

    private async Task<(string Digest, byte[] Manifest, Dictionary<string, byte[]> Parts)> PushModelPackageAsync(string repository, byte[] onnx, string tag = "1.0.0")
    {
        var card = JsonSerializer.SerializeToUtf8Bytes(
            new ModelCard(
                "sensor-anomaly",
                tag,
                ModelTasks.BinaryClassification,
                [new ModelInput("features", TensorElementTypes.Float32, [-1, 1], "temperature")],
                [new ModelOutput("PredictedLabel", TensorElementTypes.Bool, [-1, 1], PredictionFields.Label)],
                new Dictionary<string, double> { ["auc"] = 0.97 },
                new ModelLineage("run-1", "sensors", ContentDigest.Compute([1]), 1000, "FastTree", new Dictionary<string, string>(), "test"),
                [new FeatureBaseline("temperature", 20, 2, 10, 30)],
                new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)),
            ContractsJsonContext.Default.ModelCard);
        var config = await Client.PushBlobAsync(repository, card, MediaTypes.ModelCard, _none);
        using var onnxStream = new MemoryStream(onnx);
        var layer = await Client.PushBlobChunkedAsync(repository, onnxStream, MediaTypes.Onnx, chunkSize: 8_192, _none);
        layer = layer with { Annotations = new Dictionary<string, string> { [OciManifest.TitleAnnotation] = "model.onnx" } };
        var manifest = Serialize(new OciManifest(2, MediaTypes.OciManifest, MediaTypes.ModelArtifact, config, [layer]));
        var digest = await Client.PushManifestAsync(repository, tag, manifest, MediaTypes.OciManifest, _none);
        return (digest, manifest, new Dictionary<string, byte[]> { [config.Digest] = card, [layer.Digest] = onnx });
    }

    private static byte[] Serialize(OciManifest manifest) =>
        JsonSerializer.SerializeToUtf8Bytes(manifest, ContractsJsonContext.Default.OciManifest);
}
