using System.Text.Json;
using System.Text.Json.Nodes;

namespace EdgePlatform.Contracts.Tests;

public class ContractsJsonContextTests
{
    private const string ManifestDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    [Fact]
    public void SweepSpec_FieldsLeftOut_TakeTheDocumentedDefaults()
    {
        var spec = JsonSerializer.Deserialize("{\"dataset\":\"iris\",\"maxTrials\":8}", ContractsJsonContext.Default.SweepSpec)!;

        Assert.Equal(new SweepSpec { Dataset = "iris", MaxTrials = 8 }, spec with { Trainers = null, Features = null });
        Assert.Equal(5, spec.Folds);
        Assert.Equal(0.2, spec.HoldoutFraction);
        Assert.Equal(42, spec.Seed);
    }

    [Fact]
    public void DesiredState_RoundTrip_KeepsEveryField()
    {
        var desired = new DesiredState(
            7,
            new DeploymentSpec("dep-1", new ModelReference("models/sensor-anomaly", "sensor-anomaly", "3", ManifestDigest, 812, "TUlJ")),
            new TelemetrySettings(30));

        var json = JsonSerializer.Serialize(desired, ContractsJsonContext.Default.DesiredState);
        var back = JsonSerializer.Deserialize(json, ContractsJsonContext.Default.DesiredState);

        Assert.Equal(desired, back);
    }

    [Fact]
    public void DesiredState_Serialize_UsesCamelCaseAndOmitsNulls()
    {
        var desired = new DesiredState(
            2,
            new DeploymentSpec("dep-1", new ModelReference("models/m", "m", "1", ManifestDigest, 10, "c2ln")),
            TelemetrySettings.Default);

        var json = JsonNode.Parse(JsonSerializer.Serialize(desired, ContractsJsonContext.Default.DesiredState))!.AsObject();

        Assert.Equal(2, json["version"]!.GetValue<long>());
        Assert.Equal(10, json["telemetry"]!["intervalSeconds"]!.GetValue<int>());
        var model = json["deployment"]!["model"]!;
        Assert.Equal(ManifestDigest, model["manifestDigest"]!.GetValue<string>());
        Assert.Equal(10, model["manifestSize"]!.GetValue<long>());
        Assert.Equal("c2ln", model["signature"]!.GetValue<string>());

        var withoutDeployment = JsonNode.Parse(JsonSerializer.Serialize(desired with { Deployment = null }, ContractsJsonContext.Default.DesiredState))!.AsObject();
        Assert.False(withoutDeployment.ContainsKey("deployment"));
    }

    [Fact]
    public void OciManifest_Serialize_UsesOciFieldNames()
    {
        var manifest = new OciManifest(
            2,
            MediaTypes.OciManifest,
            MediaTypes.ModelArtifact,
            new OciDescriptor(MediaTypes.ModelCard, ManifestDigest, 120),
            [new OciDescriptor(MediaTypes.Onnx, ManifestDigest, 4096, new Dictionary<string, string> { [OciManifest.TitleAnnotation] = "model.onnx" })],
            new Dictionary<string, string> { ["org.opencontainers.image.version"] = "3" });

        var json = JsonNode.Parse(JsonSerializer.Serialize(manifest, ContractsJsonContext.Default.OciManifest))!.AsObject();

        Assert.Equal(2, json["schemaVersion"]!.GetValue<int>());
        Assert.Equal(MediaTypes.OciManifest, json["mediaType"]!.GetValue<string>());
        Assert.Equal(MediaTypes.ModelArtifact, json["artifactType"]!.GetValue<string>());
        Assert.Equal(MediaTypes.ModelCard, json["config"]!["mediaType"]!.GetValue<string>());
        Assert.False(json["config"]!.AsObject().ContainsKey("annotations"));
        var layer = json["layers"]![0]!;
        Assert.Equal(4096, layer["size"]!.GetValue<long>());
        Assert.Equal("model.onnx", layer["annotations"]![OciManifest.TitleAnnotation]!.GetValue<string>());
        Assert.Equal("3", json["annotations"]!["org.opencontainers.image.version"]!.GetValue<string>());
    }

    [Fact]
    public void OciManifest_DeserializeRegistryDocument_ReadsLayersAndFindsTheModel()
    {
        const string document = $$"""
            {
              "schemaVersion": 2,
              "mediaType": "application/vnd.oci.image.manifest.v1+json",
              "artifactType": "application/vnd.edgeplatform.model.v1+json",
              "config": { "mediaType": "application/vnd.edgeplatform.model.card.v1+json", "digest": "{{ManifestDigest}}", "size": 120 },
              "layers": [
                { "mediaType": "application/vnd.onnx", "digest": "{{ManifestDigest}}", "size": 4096,
                  "annotations": { "org.opencontainers.image.title": "model.onnx" } },
                { "mediaType": "application/vnd.edgeplatform.mlnet.model.v1+zip", "digest": "{{ManifestDigest}}", "size": 9000 }
              ],
              "annotations": { "org.opencontainers.image.created": "2025-03-01T12:00:00Z" },
              "subject": { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "{{ManifestDigest}}", "size": 1 }
            }
            """;

        var manifest = JsonSerializer.Deserialize(document, ContractsJsonContext.Default.OciManifest)!;

        Assert.Equal(2, manifest.SchemaVersion);
        Assert.Equal(MediaTypes.ModelArtifact, manifest.ArtifactType);
        Assert.Equal(120, manifest.Config.Size);
        Assert.Equal(2, manifest.Layers.Count);
        var onnx = manifest.FindLayer(MediaTypes.Onnx);
        Assert.NotNull(onnx);
        Assert.Equal(4096, onnx.Size);
        Assert.Equal("model.onnx", onnx.Annotations![OciManifest.TitleAnnotation]);
        Assert.Null(manifest.FindLayer("application/x-unknown"));
    }

    [Fact]
    public void OciManifest_RoundTrip_KeepsEveryField()
    {
        var manifest = new OciManifest(
            2,
            MediaTypes.OciManifest,
            null,
            new OciDescriptor(MediaTypes.OciEmptyConfig, ManifestDigest, 2),
            [new OciDescriptor(MediaTypes.Onnx, ManifestDigest, 5)]);

        var back = JsonSerializer.Deserialize(JsonSerializer.SerializeToUtf8Bytes(manifest, ContractsJsonContext.Default.OciManifest), ContractsJsonContext.Default.OciManifest)!;

        Assert.Equal(manifest.SchemaVersion, back.SchemaVersion);
        Assert.Equal(manifest.MediaType, back.MediaType);
        Assert.Null(back.ArtifactType);
        Assert.Equal(manifest.Config, back.Config);
        Assert.Equal(manifest.Layers, back.Layers);
        Assert.Null(back.Annotations);
    }

    [Fact]
    public void FeatureBaseline_CardWithoutDecileEdges_LoadsWithNone()
    {
        var json = """{"name":"rpm","mean":1460.5,"stdDev":12.25,"min":1400,"max":1500}""";

        var baseline = JsonSerializer.Deserialize(json, ContractsJsonContext.Default.FeatureBaseline);

        Assert.Equal(new FeatureBaseline("rpm", 1460.5, 12.25, 1400, 1500), baseline);
        Assert.Null(baseline!.DecileEdges);
    }

    [Fact]
    public void FeatureBaseline_WithDecileEdges_RoundTrips()
    {
        var baseline = new FeatureBaseline("rpm", 1460.5, 12.25, 1400, 1500, [1440, 1445, 1450, 1455, 1460, 1465, 1470, 1475, 1480]);

        var json = JsonSerializer.SerializeToUtf8Bytes(baseline, ContractsJsonContext.Default.FeatureBaseline);

        Assert.Equal(baseline, JsonSerializer.Deserialize(json, ContractsJsonContext.Default.FeatureBaseline));
    }
}
