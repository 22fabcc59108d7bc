using System.Text;
using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.Training;
using EdgePlatform.Training.Data;
using EdgePlatform.Training.Scoring;

namespace EdgePlatform.Agent.Inference.Tests;

/// <summary>
/// Weka's congressional votes (16 y/n votes with '?' for none, class democrat/republican) trained
/// with its votes as categorical string inputs, exported, and scored on the device from raw JSON
/// events exactly as ML.NET scores the same rows.
/// </summary>
public sealed class CategoricalModelTests
{
    private const string VoteArff = "/usr/share/doc/weka/examples/vote.arff";

    [Theory]
    [InlineData(TrainerNames.FastTree)]
    [InlineData(TrainerNames.LogisticRegression)]
    public void Score_JsonEventsWithStringCategoricals_MatchMlNet(string trainer)
    {
        var data = LoadVote(out var rows);
        Assert.Contains(rows, row => row.ContainsValue(null));
        var trained = new ModelTrainer(TimeProvider.System).Train(
            new TrainingSpec
            {
                ModelName = "vote",
                ModelVersion = "1.0.0",
                Trainer = trainer,
                FeatureColumns = data.FeatureColumns,
                LabelColumn = "Class",
                TrainingRunId = "run-vote",
                DatasetName = "vote",
                CodeVersion = "test",
                Trees = 20,
                Leaves = 8,
            },
            data);
        Assert.All(trained.Card.Inputs, input => Assert.Equal(TensorElementTypes.String, input.ElementType));
        Assert.Equal("republican", trained.Card.Lineage.Parameters["positiveClass"]);
        Assert.InRange(trained.Card.Metrics["auc"], 0.9, 1.0);

        var path = Path.Combine(Path.GetTempPath(), $"vote-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, trained.OnnxModel);
        try
        {
            using var device = LoadedModel.Load(trained.Card, path, new OnnxModelSettings());
            var expected = new MlNetScorer(trained.MlNetModel).Predict([.. rows.Select(_ => (IReadOnlyDictionary<string, float>)new Dictionary<string, float>())], rows);
            var batch = new RowPrediction[rows.Count];
            var strings = rows.SelectMany(row => device.Binder.StringFields.Select(field => row[field] ?? string.Empty)).ToArray();
            device.ScoreBatch([], strings, batch);
            for (var i = 0; i < rows.Count; i++)
            {
                // A missing vote is left out of the event: the device binds it as training did.
                var fields = rows[i].Where(f => f.Value is not null).ToDictionary(f => f.Key, f => f.Value);
                fields["id"] = $"row-{i}";
                var single = device.Score(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(fields)));

                Assert.Equal($"row-{i}", single.CorrelationId);
                AssertClose(expected[i].Score, single.Score!.Value, i);
                AssertClose(expected[i].Probability, single.Probability!.Value, i);
                AssertClose(expected[i].Score, batch[i].Score!.Value, i);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Score_CategoricalFieldThatIsANumber_IsRefusedWithTheField()
    {
        var data = LoadVote(out _);
        var trained = new ModelTrainer(TimeProvider.System).Train(
            new TrainingSpec
            {
                ModelName = "vote", ModelVersion = "1.0.0", Trainer = TrainerNames.LogisticRegression, FeatureColumns = data.FeatureColumns,
                LabelColumn = "Class", TrainingRunId = "run-vote", DatasetName = "vote", CodeVersion = "test",
            },
            data);
        var path = Path.Combine(Path.GetTempPath(), $"vote-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, trained.OnnxModel);
        try
        {
            using var device = LoadedModel.Load(trained.Card, path, new OnnxModelSettings());

            var ex = Assert.Throws<EventBindingException>(() => device.Score("""{"crime": 1}"""u8));

            Assert.Equal("field 'crime' is a number, expected a string", ex.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void AssertClose(float expected, float actual, int row)
    {
        var allowed = 1e-5 * Math.Max(1, Math.Max(Math.Abs(expected), Math.Abs(actual)));
        Assert.True(Math.Abs(expected - actual) <= allowed, $"row {row}: ML.NET {expected:G9}, device {actual:G9}, allowed {allowed:G3}");
    }

    /// <summary>
    /// Reads vote.arff with the ARFF reader twice: into the dataset the trainer takes, and into the
    /// raw rows (votes by name, null for '?') the device is sent as events.
    /// </summary>
    private static TabularDataset LoadVote(out List<Dictionary<string, string?>> rows)
    {
        if (!File.Exists(VoteArff))
        {
            throw new InvalidOperationException($"{VoteArff} is missing: install Weka's examples (apt-get install weka), as tests/run.sh does.");
        }

        rows = [];
        using (var reader = TabularFormats.Open(VoteArff))
        {
            var columns = reader.Schema.Columns;
            Assert.All(columns, c => Assert.Equal(ColumnKind.Categorical, c.Kind));
            while (reader.ReadBatch() is { } batch)
            {
                for (var r = 0; r < batch.RowCount; r++)
                {
                    rows.Add(columns.Select((c, i) => (c.Name, Value: batch.Strings[i]![r])).Where(c => c.Name != "Class").ToDictionary(c => c.Name, c => c.Value));
                }
            }
        }

        using var dataset = TabularFormats.Open(VoteArff);
        return TabularDataset.FromReader(dataset, "Class", ContentDigest.Compute(File.ReadAllBytes(VoteArff)), source: VoteArff);
    }
}
