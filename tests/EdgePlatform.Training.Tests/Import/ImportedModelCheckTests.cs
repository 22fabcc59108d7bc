using System.Text.Json;
using EdgePlatform.Agent.Inference.Tests;
using EdgePlatform.Contracts;
using EdgePlatform.Training.Import;

namespace EdgePlatform.Training.Tests.Import;

public sealed class ImportedModelCheckTests
{
    private static readonly string[] Classes = ["low", "mid", "high"];

    private readonly SoftmaxClassifierOnnx _classifier = new(new float[,] { { 1f, 0f, -1f }, { -0.5f, 0.5f, 1f } }, [0f, 0.1f, -0.1f]);

    [Fact]
    public void Check_SampleTheGraphReproduces_RecordsRowsComparedAndTheClosestCall()
    {
        var rows = new[] { new[] { 1f, 2f }, new[] { -2f, 0.5f }, new[] { 3f, -1f } };

        var report = ImportedModelCheck.Check(Card(), _classifier.ToOnnx(), Sample(rows), ParityTolerance.Default);

        Assert.Equal(3, report.RowsCompared);
        Assert.NotNull(report.Worst);
        Assert.True(report.Worst!.Difference <= report.Worst.Allowed);
    }

    [Fact]
    public void Check_ExpectedClassDiffers_RefusedNamingRowAndClasses()
    {
        var rows = new[] { new[] { 1f, 2f }, new[] { 3f, -1f } };
        var sample = Sample(rows, (row, expected) => row == 1 ? expected with { Label = "mid" } : expected);

        var error = Assert.Throws<ModelImportException>(() => ImportedModelCheck.Check(Card(), _classifier.ToOnnx(), sample, ParityTolerance.Default));

        Assert.Equal("sample.rows[1].expected.label", error.Field);
        Assert.Equal($"expected class 'mid', ONNX Runtime gave '{Classes[ArgMax(_classifier.Predict(rows[1]))]}'", error.Message);
    }

    [Fact]
    public void Check_EventLacksAnInputField_RefusedNamingRowAndField()
    {
        var sample = new ModelImportSample([new ModelImportSampleRow(JsonSerializer.SerializeToElement(new Dictionary<string, float> { ["a"] = 1 }), Expected([1f, 2f]))]);

        var error = Assert.Throws<ModelImportException>(() => ImportedModelCheck.Check(Card(), _classifier.ToOnnx(), sample, ParityTolerance.Default));

        Assert.Equal("sample.rows[0].event.b", error.Field);
        Assert.Equal("is missing; input 'features' needs it", error.Message);
    }

    [Fact]
    public void Check_CardWithWrongClassCount_RefusedNamingTheOutput()
    {
        var card = Card() with { Classes = ["low", "high"] };

        var error = Assert.Throws<ModelImportException>(() => ImportedModelCheck.Check(card, _classifier.ToOnnx(), Sample([[1f, 2f]]), ParityTolerance.Default));

        Assert.Equal("card", error.Field);
        Assert.Equal("output 'probabilities' has shape [-1, 3]; 'probabilities' needs [-1, 2], one column per class of the card's 2 classes", error.Message);
    }

    [Fact]
    public void Check_BytesThatAreNotOnnx_RefusedNamingOnnx()
    {
        var error = Assert.Throws<ModelImportException>(() => ImportedModelCheck.Check(Card(), [1, 2, 3], Sample([[1f, 2f]]), ParityTolerance.Default));

        Assert.Equal("onnx", error.Field);
        Assert.StartsWith("ONNX Runtime cannot load the graph", error.Message, StringComparison.Ordinal);
    }

    private static ModelCard Card() => new(
        "m",
        "1",
        ModelTasks.MulticlassClassification,
        [new ModelInput("features", TensorElementTypes.Float32, [-1, 2], "a, b")],
        [
            new ModelOutput("label", TensorElementTypes.Int64, [-1, 1], PredictionFields.Label),
            new ModelOutput("probabilities", TensorElementTypes.Float32, [-1, 3], PredictionFields.Probabilities),
        ],
        new Dictionary<string, double>(),
        new ModelLineage("imported", "d", string.Empty, 0, "softmax", new Dictionary<string, string>(), "test"),
        [],
        DateTimeOffset.UnixEpoch)
    {
        Classes = Classes,
    };

    private ModelImportSample Sample(float[][] rows, Func<int, ExpectedOutputs, ExpectedOutputs>? change = null) =>
        new([.. rows.Select((row, i) => new ModelImportSampleRow(
            JsonSerializer.SerializeToElement(new Dictionary<string, float> { ["a"] = row[0], ["b"] = row[1] }),
            Expected(row, change is null ? null : expected => change(i, expected))))]);

    private Dictionary<string, JsonElement> Expected(float[] row, Func<ExpectedOutputs, ExpectedOutputs>? change = null)
    {
        var probabilities = _classifier.Predict(row);
        var expected = new ExpectedOutputs(Classes[ArgMax(probabilities)], probabilities);
        expected = change?.Invoke(expected) ?? expected;
        return new Dictionary<string, JsonElement>
        {
            [PredictionFields.Label] = JsonSerializer.SerializeToElement(expected.Label),
            [PredictionFields.Probabilities] = JsonSerializer.SerializeToElement(expected.Probabilities),
        };
    }

    private static int ArgMax(double[] values) => Array.IndexOf(values, values.Max());

    public sealed record ExpectedOutputs(string Label, double[] Probabilities);
}
