using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Models;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Tests.Fakes;
using Microsoft.Extensions.Logging.Abstractions;
using NSubstitute;
using NSubstitute.ExceptionExtensions;

namespace EdgePlatform.ControlPlane.Tests.Models;

public sealed class ModelImporterTests : IDisposable
{
    private static readonly byte[] Onnx = [8, 8, 18, 4];
    private static readonly ParityReport Checked = new("rule", 1e-5, 1e-5, 3, null);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly InMemoryStore _store = new();
    private readonly InMemoryArtifactStore _artifacts = new();
    private readonly TestTrustPublisher _trust;
    private readonly ModelRegistry _registry;
    private readonly IImportedModelChecker _checker = Substitute.For<IImportedModelChecker>();
    private readonly ModelImporter _importer;

    public ModelImporterTests()
    {
        _trust = new TestTrustPublisher(_time);
        _registry = new ModelRegistry(_store, _artifacts, _trust, _time, NullLogger<ModelRegistry>.Instance);
        _importer = new ModelImporter(_registry, _checker, _time);
        _checker.Check(Arg.Any<ModelCard>(), Arg.Any<byte[]>(), Arg.Any<ModelImportSample>()).Returns(Checked);
    }

    public void Dispose() => _trust.Dispose();

    [Fact]
    public async Task ImportAsync_CheckedModel_PublishesTheNextVersionWithItsSampleCheckAndOnlyTheOnnxLayer()
    {
        var record = await _importer.ImportAsync("machine-state", Request(), CancellationToken.None);

        Assert.Equal("1", record.Version);
        var manifest = JsonSerializer.Deserialize(_artifacts.Blobs[record.ManifestDigest], ContractsJsonContext.Default.OciManifest)!;
        Assert.Equal([MediaTypes.Onnx], manifest.Layers.Select(layer => layer.MediaType));
        var card = ModelCard.Read(_artifacts.Blobs[manifest.Config.Digest], out _)!;
        Assert.Equal(Checked, card.Parity);
        Assert.Equal(["a", "b", "c"], card.Classes);
        Assert.Equal(ModelImporter.ImportedRun, card.Lineage.TrainingRunId);
        Assert.Equal("sklearn", card.Lineage.Parameters["framework"]);
        Assert.Equal(_time.GetUtcNow(), card.CreatedAt);
        Assert.Single(_trust.Approvals);
    }

    [Fact]
    public async Task ImportAsync_CheckRefuses_PublishesNothing()
    {
        _checker.Check(Arg.Any<ModelCard>(), Arg.Any<byte[]>(), Arg.Any<ModelImportSample>())
            .Throws(new RequestValidationException("sample.rows[2].expected.label", "expected class 'a', ONNX Runtime gave 'b'"));

        var error = await Assert.ThrowsAsync<RequestValidationException>(() => _importer.ImportAsync("machine-state", Request(), CancellationToken.None));

        Assert.Equal("sample.rows[2].expected.label", error.Field);
        Assert.Empty(_artifacts.Blobs);
        Assert.Empty(_trust.Approvals);
    }

    [Theory]
    [InlineData("card.task")]
    [InlineData("card.inputs")]
    [InlineData("onnx")]
    [InlineData("sample")]
    public async Task ImportAsync_MissingPart_RefusedNamingIt(string field)
    {
        var request = Request();
        request = field switch
        {
            "card.task" => request with { Card = request.Card! with { Task = "ranking" } },
            "card.inputs" => request with { Card = request.Card! with { Inputs = [] } },
            "onnx" => request with { Onnx = [] },
            _ => request with { Sample = null },
        };

        var error = await Assert.ThrowsAsync<RequestValidationException>(() => _importer.ImportAsync("machine-state", request, CancellationToken.None));

        Assert.Equal(field, error.Field);
        _checker.DidNotReceiveWithAnyArgs().Check(default!, default!, default!);
    }

    private static ModelImportRequest Request() => new(
        Onnx,
        new ModelImportCard(
            ModelTasks.MulticlassClassification,
            [new ModelInput("features", TensorElementTypes.Float32, [-1, 2], "x, y")],
            [new ModelOutput("probabilities", TensorElementTypes.Float32, [-1, 3], PredictionFields.Probabilities)],
            ["a", "b", "c"],
            Lineage: new ModelImportLineage(Framework: "sklearn")),
        new ModelImportSample([]));
}
