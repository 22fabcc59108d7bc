using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Models;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Tests.Fakes;
using EdgePlatform.Security.Tuf;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgePlatform.ControlPlane.Tests.Models;

public sealed class ModelRegistryTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly InMemoryStore _store = new();
    private readonly InMemoryArtifactStore _artifacts = new();
    private readonly TestTrustPublisher _trust;
    private readonly ModelRegistry _registry;

    public ModelRegistryTests()
    {
        _trust = new TestTrustPublisher(_time);
        _registry = new ModelRegistry(_store, _artifacts, _trust, _time, NullLogger<ModelRegistry>.Instance);
    }

    public void Dispose() => _trust.Dispose();

    [Fact]
    public async Task PublishAsync_TrainedModel_StoresAManifestWhoseDigestAndSignatureCheckOut()
    {
        var record = await _registry.PublishAsync(Trained("sensor", "1"), CancellationToken.None);

        var manifestBytes = _artifacts.Blobs[record.ManifestDigest];
        Assert.Equal(ContentDigest.Compute(manifestBytes), record.ManifestDigest);
        Assert.Equal(manifestBytes.Length, record.ManifestSize);
        var signers = TufEnvelopes.ValidCmsSigners(manifestBytes, Convert.FromBase64String(record.Signature), _trust.Repository.Root, TufRoles.Targets);
        Assert.Contains(_trust.TargetsKey.KeyId, signers);
        Assert.Equal(record, await _store.FindModelAsync("sensor", "1", CancellationToken.None));
    }

    [Fact]
    public async Task PublishAsync_TrainedModel_ApprovesExactlyThatManifestInTheSignedTargets()
    {
        var record = await _registry.PublishAsync(Trained("sensor", "1"), CancellationToken.None);

        Assert.Equal(
            [new TestTrustPublisher.Approval("sensor", "1", "models/sensor", record.ManifestDigest, record.ManifestSize)],
            _trust.Approvals);
        var targets = _trust.Repository.Targets!;
        var entry = TufClient.Authorize(targets, "sensor", "1", "production", record.ManifestDigest, record.ManifestSize);
        Assert.Equal(record.Repository, entry.Repository);
    }

    [Fact]
    public async Task PublishAsync_TwoVersions_BothStayApproved()
    {
        var first = await _registry.PublishAsync(Trained("sensor", "1"), CancellationToken.None);
        var second = await _registry.PublishAsync(Trained("sensor", "2"), CancellationToken.None);

        var targets = _trust.Repository.Targets!;
        Assert.Equal(first.ManifestDigest, targets.Targets["sensor:1"].Digest);
        Assert.Equal(second.ManifestDigest, targets.Targets["sensor:2"].Digest);
    }

    [Fact]
    public async Task PublishAsync_RefusedPublish_ApprovesNothingMore()
    {
        await _registry.PublishAsync(Trained("sensor", "1"), CancellationToken.None);

        await Assert.ThrowsAsync<ConflictException>(() => _registry.PublishAsync(Trained("sensor", "1"), CancellationToken.None));
        await Assert.ThrowsAsync<RequestValidationException>(() => _registry.PublishAsync(Trained("Bad Name", "1"), CancellationToken.None));

        Assert.Single(_trust.Approvals);
    }

    [Fact]
    public async Task PublishAsync_TrainedModel_ManifestPointsAtCardOnnxAndMlNetBlobs()
    {
        var trained = Trained("sensor", "1");

        var record = await _registry.PublishAsync(trained, CancellationToken.None);

        var manifest = JsonSerializer.Deserialize(_artifacts.Blobs[record.ManifestDigest], ContractsJsonContext.Default.OciManifest)!;
        Assert.Equal(2, manifest.SchemaVersion);
        Assert.Equal(MediaTypes.OciManifest, manifest.MediaType);
        Assert.Equal(MediaTypes.ModelArtifact, manifest.ArtifactType);
        Assert.Equal(MediaTypes.ModelCard, manifest.Config.MediaType);
        var card = JsonSerializer.Deserialize(_artifacts.Blobs[manifest.Config.Digest], ContractsJsonContext.Default.ModelCard)!;
        Assert.Equal(("sensor", "1"), (card.Name, card.Version));
        var onnx = manifest.FindLayer(MediaTypes.Onnx)!;
        Assert.Equal(trained.OnnxModel, _artifacts.Blobs[onnx.Digest]);
        Assert.Equal(trained.OnnxModel.Length, onnx.Size);
        Assert.Equal("model.onnx", onnx.Annotations![OciManifest.TitleAnnotation]);
        Assert.Equal(trained.MlNetModel, _artifacts.Blobs[manifest.FindLayer(MediaTypes.MlNetModel)!.Digest]);
        Assert.Equal((onnx.Digest, onnx.Size), (record.OnnxDigest, record.OnnxSize));
        Assert.Equal("1", manifest.Annotations![ModelRegistry.VersionAnnotation]);
    }

    [Fact]
    public async Task PublishAsync_ExistingVersion_ThrowsConflict()
    {
        await _registry.PublishAsync(Trained("sensor", "1"), CancellationToken.None);

        var exception = await Assert.ThrowsAsync<ConflictException>(() => _registry.PublishAsync(Trained("sensor", "1"), CancellationToken.None));

        Assert.Equal("model 'sensor' version '1' already exists", exception.Message);
    }

    [Fact]
    public async Task PublishAsync_InvalidName_ThrowsValidationOnName()
    {
        var exception = await Assert.ThrowsAsync<RequestValidationException>(() => _registry.PublishAsync(Trained("Sensor Model", "1"), CancellationToken.None));

        Assert.Equal("name", exception.Field);
        Assert.Empty(_artifacts.Blobs);
    }

    [Fact]
    public async Task NextVersionAsync_CountsUpPerModel()
    {
        Assert.Equal("1", await _registry.NextVersionAsync("sensor", CancellationToken.None));
        await _registry.PublishAsync(Trained("sensor", "1"), CancellationToken.None);
        await _registry.PublishAsync(Trained("sensor", "2"), CancellationToken.None);
        await _registry.PublishAsync(Trained("other", "7"), CancellationToken.None);

        Assert.Equal("3", await _registry.NextVersionAsync("sensor", CancellationToken.None));
        Assert.Equal("8", await _registry.NextVersionAsync("other", CancellationToken.None));
    }

    [Fact]
    public async Task ResolveAsync_NameAndVersion_FindsThatVersion()
    {
        await _registry.PublishAsync(Trained("sensor", "1"), CancellationToken.None);
        await _registry.PublishAsync(Trained("sensor", "2"), CancellationToken.None);

        Assert.Equal("1", (await _registry.ResolveAsync("sensor:1", CancellationToken.None)).Version);
    }

    private TrainedModel Trained(string name, string version)
    {
        var card = new ModelCard(
            name,
            version,
            ModelTasks.BinaryClassification,
            [new ModelInput("temperature", TensorElementTypes.Float32, [-1, 1], "temperature")],
            [new ModelOutput("PredictedLabel.output", TensorElementTypes.Bool, [-1, 1], PredictionFields.Label)],
            new Dictionary<string, double> { ["auc"] = 0.97 },
            new ModelLineage("run-1", "sensor-anomaly", "sha256:" + new string('d', 64), 100, "fasttree", new Dictionary<string, string>(), "test"),
            [new FeatureBaseline("temperature", 20, 2, 10, 30)],
            _time.Now);
        return new TrainedModel(card, [1, 2, 3, .. System.Text.Encoding.UTF8.GetBytes(name + version)], [9, 8, 7, .. System.Text.Encoding.UTF8.GetBytes(version)]);
    }
}
