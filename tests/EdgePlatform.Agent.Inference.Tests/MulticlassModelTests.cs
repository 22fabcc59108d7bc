using System.Globalization;
using System.Text;
using EdgePlatform.Agent.Inference.Engine;
using EdgePlatform.Agent.Inference.Tests.Engine;
using EdgePlatform.Contracts;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgePlatform.Agent.Inference.Tests;

/// <summary>
/// A multiclass model written by hand as ONNX (not by ML.NET): its card binds an int64 label and
/// a [-1, C] probabilities output, and a device reads the class name and every class's probability.
/// </summary>
public sealed class MulticlassModelTests : IDisposable
{
    private const double Absolute = 1e-6;
    private const double Relative = 1e-5;
    private static readonly string[] Classes = ["idle", "running", "fault"];

    private readonly string _directory = Directory.CreateTempSubdirectory("multiclass-tests-").FullName;
    private readonly SoftmaxClassifierOnnx _classifier = new(
        new float[,] { { 1.5f, -0.5f, 0.2f }, { -1.0f, 2.0f, 0.1f } },
        [0.1f, -0.2f, 0.05f]);

    [Fact]
    public void Score_Int64LabelAndProbabilities_GivesClassNameAndProbabilitiesOfTheGraph()
    {
        using var model = Load(Card(), _classifier.ToOnnx());
        var rows = Rows(40);
        foreach (var row in rows)
        {
            var result = model.Score(Event(row));

            var expected = _classifier.Predict(row);
            Assert.Equal(Classes[ArgMax(expected)], result.Class);
            Assert.NotNull(result.Probabilities);
            Assert.Equal(Classes.Length, result.Probabilities!.Count);
            for (var c = 0; c < Classes.Length; c++)
            {
                AssertClose(expected[c], result.Probabilities[c]);
            }

            Assert.Null(result.Label);
        }
    }

    [Fact]
    public void ScoreBatch_MulticlassRows_EqualSingleRowScores()
    {
        using var model = Load(Card(), _classifier.ToOnnx());
        var rows = Rows(17);
        var features = rows.SelectMany(row => row).ToArray();
        var batch = new RowPrediction[rows.Count];

        model.ScoreBatch(features, batch);

        for (var i = 0; i < rows.Count; i++)
        {
            var single = model.Score(Event(rows[i]));
            Assert.Equal(single.Class, batch[i].Class);
            Assert.Null(batch[i].Problem);
            for (var c = 0; c < Classes.Length; c++)
            {
                AssertClose(single.Probabilities![c], batch[i].Probabilities![c]);
            }
        }
    }

    [Fact]
    public void ScoreAndScoreBatch_StringLabel_GiveTheGraphsClassNames()
    {
        var card = Card() with
        {
            Outputs = [new ModelOutput("label", TensorElementTypes.String, [-1, 1], PredictionFields.Label), ProbabilitiesOutput(Classes.Length)],
        };
        using var model = Load(card, _classifier.ToOnnx(labelNames: Classes));
        var rows = Rows(9);
        var batch = new RowPrediction[rows.Count];

        model.ScoreBatch(rows.SelectMany(row => row).ToArray(), batch);

        for (var i = 0; i < rows.Count; i++)
        {
            var expected = Classes[ArgMax(_classifier.Predict(rows[i]))];
            Assert.Equal(expected, model.Score(Event(rows[i])).Class);
            Assert.Equal(expected, batch[i].Class);
        }
    }

    [Fact]
    public void Score_StringLabelTheCardDoesNotList_ThrowsNamingTheClass()
    {
        var card = Card() with
        {
            Outputs = [new ModelOutput("label", TensorElementTypes.String, [-1, 1], PredictionFields.Label)],
        };
        using var model = Load(card, _classifier.ToOnnx(labelNames: ["idle", "running", "overheated"]));

        var error = Assert.Throws<ModelOutputException>(() => model.Score(Event(RowFor(targetClass: 2))));

        Assert.Equal("output 'label' gave class 'overheated', which is not one of the card's classes (idle, running, fault)", error.Message);
    }

    [Fact]
    public void Score_OnlyProbabilitiesBound_ClassIsTheMostProbable()
    {
        var card = Card() with { Outputs = [ProbabilitiesOutput(Classes.Length)] };
        using var model = Load(card, _classifier.ToOnnx(labelOutput: false));

        foreach (var row in Rows(20))
        {
            Assert.Equal(Classes[ArgMax(_classifier.Predict(row))], model.Score(Event(row)).Class);
        }
    }

    [Fact]
    public void Load_ClassCountDiffersFromProbabilitiesWidth_ThrowsNamingOutput()
    {
        var card = Card() with { Classes = ["idle", "running"] };

        var error = Assert.Throws<ModelLoadException>(() => Load(card, _classifier.ToOnnx()));

        Assert.Equal(
            "output 'probabilities' has shape [-1, 3]; 'probabilities' needs [-1, 2], one column per class of the card's 2 classes",
            error.Message);
    }

    [Fact]
    public void Load_LabelBoundToTheProbabilitiesTensor_ThrowsNamingShape()
    {
        var card = Card() with
        {
            Outputs = [new ModelOutput("probabilities", TensorElementTypes.Float32, [-1, Classes.Length], PredictionFields.Label)],
        };

        var error = Assert.Throws<ModelLoadException>(() => Load(card, _classifier.ToOnnx()));

        Assert.Equal("output 'probabilities' is float32 but prediction field 'label' needs string or int64", error.Message);
    }

    [Fact]
    public void Load_MulticlassCardWithoutClasses_ThrowsNamingClasses()
    {
        var card = Card() with { Classes = null };

        var error = Assert.Throws<ModelLoadException>(() => Load(card, _classifier.ToOnnx()));

        Assert.StartsWith("a multiclass-classification card lists its classes in 'classes'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ProbabilitiesOnBinaryCard_ThrowsNamingTask()
    {
        var card = Card() with { Task = ModelTasks.BinaryClassification, Outputs = [ProbabilitiesOutput(Classes.Length)] };

        var error = Assert.Throws<ModelLoadException>(() => Load(card, _classifier.ToOnnx()));

        Assert.Equal(
            "output 'probabilities' is bound to 'probabilities', which only a multiclass-classification card has; this card's task is 'binary-classification'",
            error.Message);
    }

    [Fact]
    public void Load_LabelWithWrongShape_ThrowsNamingOutput()
    {
        var card = Card() with { Outputs = [new ModelOutput("label", TensorElementTypes.Int64, [-1, 2], PredictionFields.Label)] };

        var error = Assert.Throws<ModelLoadException>(() => Load(card, _classifier.ToOnnx()));

        Assert.Equal("output 'label' has shape [-1, 2] in the card but [-1, 1] in the graph", error.Message);
    }

    [Fact]
    public void Score_Int64IndexOutsideClasses_ThrowsModelOutputExceptionNamingIndex()
    {
        using var model = Load(OutOfRangeCard(), _classifier.ToOnnx());
        var row = RowFor(targetClass: 2);

        var error = Assert.Throws<ModelOutputException>(() => model.Score(Event(row)));

        Assert.Equal("output 'label' gave class index 2, outside the card's 2 classes (0 to 1)", error.Message);
    }

    [Fact]
    public async Task RunAsync_Int64IndexOutsideClasses_FailsThatEventWithReasonAndScoresTheRest()
    {
        var sink = new RecordingSink();
        using var stop = new CancellationTokenSource();
        var engine = new InferenceEngine(
            new ModelHost(NullLogger<ModelHost>.Instance),
            new InferenceEngineOptions { MaxQueueDelayMs = 50, MaxBatchSize = 8 },
            TimeProvider.System,
            NullLoggerFactory.Instance);
        engine.Control.Activate(Load(OutOfRangeCard(), _classifier.ToOnnx()));
        engine.TryEnqueue(InferenceEvent.FromJson(Event(RowFor(targetClass: 0), "good-1"), sink, "good-1"));
        engine.TryEnqueue(InferenceEvent.FromJson(Event(RowFor(targetClass: 2), "bad"), sink, "bad"));
        engine.TryEnqueue(InferenceEvent.FromJson(Event(RowFor(targetClass: 1), "good-2"), sink, "good-2"));
        var running = engine.RunAsync(stop.Token);

        await sink.WaitForAsync(3, TimeSpan.FromSeconds(20));
        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(20));

        var failed = Assert.Single(sink.Failed);
        Assert.Equal("bad", failed.State);
        Assert.Equal(EventOutcome.ScoringFailed, failed.Outcome);
        Assert.Equal("scoring failed: output 'label' gave class index 2, outside the card's 2 classes (0 to 1)", failed.Reason);
        var scored = sink.Scored.ToDictionary(s => (string)s.State!, s => s.Scored.Prediction.Class);
        Assert.Equal("idle", scored["good-1"]);
        Assert.Equal("running", scored["good-2"]);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>Two classes on the card, three columns in the graph: ArgMax can name a class the card lacks.</summary>
    private static ModelCard OutOfRangeCard() => Card() with
    {
        Classes = ["idle", "running"],
        Outputs = [new ModelOutput("label", TensorElementTypes.Int64, [-1, 1], PredictionFields.Label)],
    };

    private static ModelCard Card() => new(
        "machine-state",
        "1",
        ModelTasks.MulticlassClassification,
        [new ModelInput("features", TensorElementTypes.Float32, [-1, 2], "current_a, vibration_mm_s")],
        [new ModelOutput("label", TensorElementTypes.Int64, [-1, 1], PredictionFields.Label), ProbabilitiesOutput(Classes.Length)],
        new Dictionary<string, double>(),
        new ModelLineage("import", "elsewhere", ContentDigest.Compute([]), 0, "hand-written", new Dictionary<string, string>(), "test"),
        [],
        DateTimeOffset.UnixEpoch)
    {
        Classes = Classes,
    };

    private static ModelOutput ProbabilitiesOutput(int classes) =>
        new("probabilities", TensorElementTypes.Float32, [-1, classes], PredictionFields.Probabilities);

    private LoadedModel Load(ModelCard card, byte[] onnx)
    {
        var path = Path.Combine(_directory, $"{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, onnx);
        return LoadedModel.Load(card, path, new OnnxModelSettings());
    }

    private static List<float[]> Rows(int count)
    {
        var random = new Random(11);
        return [.. Enumerable.Range(0, count).Select(_ => new[] { (float)((random.NextDouble() * 6) - 3), (float)((random.NextDouble() * 6) - 3) })];
    }

    /// <summary>A row the classifier puts firmly in <paramref name="targetClass"/>.</summary>
    private float[] RowFor(int targetClass) =>
        Rows(500).First(row => ArgMax(_classifier.Predict(row)) == targetClass && _classifier.Predict(row)[targetClass] > 0.6);

    private static byte[] Event(float[] row, string? id = null) => Encoding.UTF8.GetBytes(string.Create(
        CultureInfo.InvariantCulture,
        $"{{{(id is null ? string.Empty : $"\"id\":\"{id}\",")}\"current_a\":{row[0]:R},\"vibration_mm_s\":{row[1]:R}}}"));

    private static int ArgMax(double[] values) => Array.IndexOf(values, values.Max());

    private static void AssertClose(double expected, double actual) =>
        Assert.True(
            Math.Abs(expected - actual) <= Absolute + (Relative * Math.Max(Math.Abs(expected), Math.Abs(actual))),
            $"expected {expected:R}, got {actual:R}");
}
