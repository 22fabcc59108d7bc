using System.Text.Json;
using System.Text.Json.Nodes;
using EdgePlatform.Agent.Inference.Tests;
using EdgePlatform.Contracts;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// A model made outside ML.NET (an ONNX graph written by hand: one [N, F] float input, a softmax
/// probabilities output and an ArgMax label) imported with <c>edgectl model import</c>, checked on
/// the server, rolled out to a device of its own and scored there.
/// </summary>
[Trait("Category", "EndToEnd")]
[Collection(SharedPlatform.Name)]
public sealed class ImportedModelTests(PlatformFixture platform) : IDisposable
{
    private const string DeviceId = "e2e-device-import";
    private const double Absolute = 1e-6;
    private const double Relative = 1e-5;
    private static readonly string[] Classes = ["idle", "running", "fault"];
    private static readonly string[] Fields = ["current_a", "vibration_mm_s", "temperature_c"];

    private readonly string _directory = Directory.CreateTempSubdirectory("edgeplatform-import-").FullName;
    private readonly SoftmaxClassifierOnnx _classifier = new(
        new float[,] { { 0.8f, -0.4f, 0.1f }, { -0.6f, 1.2f, 0.3f }, { 0.05f, -0.02f, 0.09f } },
        [0.2f, -0.1f, -1.5f]);

    [Fact]
    public async Task ImportedOnnxModel_RolledOutToDevice_ScoresClassAndProbabilitiesOfItsGraph()
    {
        var sampleRows = Rows(seed: 3, count: 12);
        var (onnx, card, sample) = await WriteFilesAsync("machine-state", sampleRows, tamperRow: null);

        var (exitCode, output) = await Edgectl.RunAsync(
            "model", "import", "machine-state", "--onnx", onnx, "--card", card, "--sample", sample,
            "--server", platform.Endpoints.HttpUrl, "--token", platform.AdminToken);

        Assert.True(exitCode == 0, output);
        Assert.Contains("machine-state:1 imported and signed", output, StringComparison.Ordinal);
        var model = await platform.Api.GetModelAsync("machine-state:1", default);
        var published = await platform.CardAsync(model.Repository, model.ManifestDigest);
        Assert.Equal(Classes, published.Classes);
        Assert.Equal(ModelTasks.MulticlassClassification, published.Task);
        Assert.Equal(sampleRows.Count, published.Parity!.RowsCompared);
        Assert.Equal("hand-written protobuf", published.Lineage.Parameters["framework"]);

        await using var agent = platform.StartAgent(DeviceId);
        var announcement = await Wait.ForFileAsync(
            Path.Combine(platform.Root, DeviceId, AgentEndpoints.FileName), agent, b => JsonSerializer.Deserialize(b, ContractsJsonContext.Default.AgentEndpoints));
        await using var bus = await LocalBus.ConnectAsync(DeviceId, announcement.LocalBrokerPort);
        await platform.WaitForReportAsync(DeviceId, d => d.Attestation?.State == AttestationStates.Verified, "the import device to attest");

        await platform.Api.DeployAsync(new CreateDeploymentRequest("machine-state:1", [DeviceId], null), default);
        await platform.WaitForReportAsync(DeviceId, d => PlatformFixture.IsActive(d, model.ManifestDigest), "the import device to activate the imported model");

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (row, i) in Rows(seed: 99, count: 30).Select((row, i) => (row, i)))
        {
            var id = $"import-{i}";
            var prediction = await bus.ScoreAsync(id, EventJson(id, row));

            var expected = _classifier.Predict(row);
            Assert.Equal("1", prediction.ModelVersion);
            Assert.Equal(Classes[Array.IndexOf(expected, expected.Max())], prediction.Class);
            Assert.Equal(Classes.Length, prediction.Probabilities!.Count);
            for (var c = 0; c < Classes.Length; c++)
            {
                AssertClose(expected[c], prediction.Probabilities[c], $"{id} probability of {Classes[c]}");
            }

            Assert.Null(prediction.Label);
            seen.Add(prediction.Class!);
        }

        // The rows reach every class, so a graph that always answered one class would fail above.
        Assert.Equal(Classes.Length, seen.Count);
    }

    [Fact]
    public async Task ImportWithSampleTheGraphDoesNotReproduce_RefusedNamingTheRow()
    {
        var (onnx, card, sample) = await WriteFilesAsync("machine-state-refused", Rows(seed: 5, count: 6), tamperRow: 4);

        var (exitCode, output) = await Edgectl.RunAsync(
            "model", "import", "machine-state-refused", "--onnx", onnx, "--card", card, "--sample", sample,
            "--server", platform.Endpoints.HttpUrl, "--token", platform.AdminToken);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("sample.rows[4].expected.probabilities[0]", output, StringComparison.Ordinal);
        Assert.Contains("ONNX Runtime gave", output, StringComparison.Ordinal);
        Assert.DoesNotContain(await platform.Api.ListModelsAsync(default), m => m.Name == "machine-state-refused");
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>The graph, the card its author writes and a sample whose expected outputs are computed here; <paramref name="tamperRow"/> gets a wrong first probability.</summary>
    private async Task<(string Onnx, string Card, string Sample)> WriteFilesAsync(string name, List<float[]> rows, int? tamperRow)
    {
        var onnx = Path.Combine(_directory, $"{name}.onnx");
        await File.WriteAllBytesAsync(onnx, _classifier.ToOnnx());
        var card = new JsonObject
        {
            ["task"] = ModelTasks.MulticlassClassification,
            ["inputs"] = new JsonArray(new JsonObject
            {
                ["name"] = "features", ["elementType"] = "float32", ["shape"] = new JsonArray(-1, Fields.Length), ["field"] = string.Join(", ", Fields),
            }),
            ["outputs"] = new JsonArray(
                new JsonObject { ["name"] = "label", ["elementType"] = "int64", ["shape"] = new JsonArray(-1, 1), ["field"] = "label" },
                new JsonObject { ["name"] = "probabilities", ["elementType"] = "float32", ["shape"] = new JsonArray(-1, Classes.Length), ["field"] = "probabilities" }),
            ["classes"] = new JsonArray([.. Classes.Select(c => JsonValue.Create(c))]),
            ["metrics"] = new JsonObject { ["accuracy"] = 0.91 },
            ["lineage"] = new JsonObject { ["framework"] = "hand-written protobuf", ["datasetName"] = "machine-states", ["algorithm"] = "softmax regression" },
        };
        var sampleRows = new JsonArray();
        for (var i = 0; i < rows.Count; i++)
        {
            var probabilities = _classifier.Predict(rows[i]);
            if (i == tamperRow)
            {
                probabilities[0] += 0.05;
            }

            var sampleEvent = new JsonObject();
            for (var f = 0; f < Fields.Length; f++)
            {
                sampleEvent[Fields[f]] = rows[i][f];
            }

            sampleRows.Add(new JsonObject
            {
                ["event"] = sampleEvent,
                ["expected"] = new JsonObject
                {
                    ["label"] = Classes[Array.IndexOf(probabilities, probabilities.Max())],
                    ["probabilities"] = new JsonArray([.. probabilities.Select(p => JsonValue.Create(p))]),
                },
            });
        }

        var cardPath = Path.Combine(_directory, $"{name}.card.json");
        var samplePath = Path.Combine(_directory, $"{name}.sample.json");
        await File.WriteAllTextAsync(cardPath, card.ToJsonString());
        await File.WriteAllTextAsync(samplePath, new JsonObject { ["rows"] = sampleRows }.ToJsonString());
        return (onnx, cardPath, samplePath);
    }

    /// <summary>Rows spread widely enough that every class wins some.</summary>
    private static List<float[]> Rows(int seed, int count)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => new[]
        {
            (float)((random.NextDouble() * 8) - 4),
            (float)((random.NextDouble() * 8) - 4),
            (float)(random.NextDouble() * 60),
        })];
    }

    private static byte[] EventJson(string id, float[] row)
    {
        var fields = new Dictionary<string, object> { [EventFields.CorrelationId] = id };
        for (var f = 0; f < Fields.Length; f++)
        {
            fields[Fields[f]] = row[f];
        }

        return JsonSerializer.SerializeToUtf8Bytes(fields);
    }

    private static void AssertClose(double expected, double actual, string what) =>
        Assert.True(
            Math.Abs(expected - actual) <= Absolute + (Relative * Math.Max(Math.Abs(expected), Math.Abs(actual))),
            $"{what}: expected {expected:R}, the device gave {actual:R}");
}
