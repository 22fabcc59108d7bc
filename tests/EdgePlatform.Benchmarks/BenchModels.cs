using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.Training;
using EdgePlatform.Training.Datasets;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.Trainers.LightGbm;

namespace EdgePlatform.Benchmarks;

/// <summary>A model on disk with its card, and events that fit it.</summary>
internal sealed record BenchModel(string Label, string OnnxPath, string CardPath, ModelCard Card, IReadOnlyList<float[]> Rows)
{
    public IReadOnlyList<string> Fields { get; } = [.. Card.Inputs.SelectMany(input => input.Field.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))];

    public byte[] Json(int row, long id)
    {
        var values = Rows[row % Rows.Count];
        var text = new StringBuilder(32 + (Fields.Count * 24));
        text.Append(CultureInfo.InvariantCulture, $"{{\"id\":\"{id}\"");
        for (var i = 0; i < Fields.Count; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $",\"{Fields[i]}\":{values[i]:R}");
        }

        return Encoding.UTF8.GetBytes(text.Append('}').ToString());
    }
}

/// <summary>
/// The two benchmark models: the demo's (FastTree on the built-in sensor dataset, trained as
/// <c>edgectl train</c> trains it, five scalar inputs) and a larger LightGbm model of 500 trees
/// over 30 features bound as one [-1, 30] tensor.
/// </summary>
internal static class BenchModels
{
    public const int LargeFeatures = 30;
    public const int LargeTrees = 500;
    public const int LargeTrainingRows = 20_000;

    public static BenchModel Demo(string directory)
    {
        var dataset = BuiltInDatasets.SensorAnomaly;
        var data = dataset.Load();
        var trained = new ModelTrainer(TimeProvider.System).Train(
            new TrainingSpec
            {
                ModelName = "sensor-anomaly",
                ModelVersion = "1",
                FeatureColumns = dataset.FeatureColumns,
                LabelColumn = dataset.LabelColumn,
                TrainingRunId = "benchmark",
                DatasetName = dataset.Name,
                CodeVersion = "benchmark",
            },
            data);
        var onnx = Path.Combine(directory, "demo.onnx");
        File.WriteAllBytes(onnx, trained.OnnxModel);
        var rows = Enumerable.Range(0, Math.Min(data.RowCount, 2048))
            .Select(row => data.GetFeatures(row))
            .Select(features => FieldsOf(trained.Card).Select(field => features[field]).ToArray())
            .ToList();
        return Save(directory, "demo", trained.Card, onnx, rows);
    }

    public static BenchModel Large(string directory, int trees = LargeTrees, int rows = LargeTrainingRows)
    {
        var ml = new MLContext(seed: 11);
        var random = new Random(5);
        var training = Enumerable.Range(0, rows).Select(_ => LargeRow.Random(random)).ToList();
        var model = ml.BinaryClassification.Trainers.LightGbm(new LightGbmBinaryTrainer.Options
        {
            NumberOfIterations = trees,
            NumberOfLeaves = 31,
            MinimumExampleCountPerLeaf = 5,
            LearningRate = 0.05,
            Seed = 11,
            Deterministic = true,
            NumberOfThreads = 1,
        }).Fit(ml.Data.LoadFromEnumerable(training));
        var onnx = Path.Combine(directory, "large.onnx");
        using (var stream = File.Create(onnx))
        {
            ml.Model.ConvertToOnnx(model, ml.Data.LoadFromEnumerable(training.Take(1).Select(row => new LargeInput { Features = row.Features })), stream, "PredictedLabel", "Score", "Probability");
        }

        var fields = string.Join(",", Enumerable.Range(0, LargeFeatures).Select(i => $"f{i:D2}"));
        var card = CardFor(onnx, "large-lightgbm", "1", fields, rows);
        return Save(directory, "large", card, onnx, [.. training.Take(2048).Select(row => row.Features)]);
    }

    private static IEnumerable<string> FieldsOf(ModelCard card) =>
        card.Inputs.SelectMany(input => input.Field.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));

    private static BenchModel Save(string directory, string label, ModelCard card, string onnx, IReadOnlyList<float[]> rows)
    {
        var cardPath = Path.Combine(directory, $"{label}.card.json");
        File.WriteAllBytes(cardPath, JsonSerializer.SerializeToUtf8Bytes(card, ContractsJsonContext.Default.ModelCard));
        return new BenchModel(label, onnx, cardPath, card, rows);
    }

    /// <summary>The card as the training side writes it: names, types and shapes as ONNX Runtime reports them.</summary>
    private static ModelCard CardFor(string onnxPath, string name, string version, string vectorFields, int trainingRows)
    {
        using var session = new InferenceSession(onnxPath);
        var inputs = session.InputMetadata
            .Select(input => new ModelInput(input.Key, TensorElementTypes.Float32, [.. input.Value.Dimensions.Select(d => (long)d)], vectorFields))
            .ToList();
        var outputs = session.OutputMetadata
            .Select(output => (output, field: output.Key.StartsWith("PredictedLabel", StringComparison.Ordinal) ? PredictionFields.Label
                : output.Key.StartsWith("Score", StringComparison.Ordinal) ? PredictionFields.Score
                : output.Key.StartsWith("Probability", StringComparison.Ordinal) ? PredictionFields.Probability : null))
            .Where(bound => bound.field is not null)
            .Select(bound => new ModelOutput(
                bound.output.Key,
                bound.output.Value.ElementDataType == TensorElementType.Bool ? TensorElementTypes.Bool : TensorElementTypes.Float32,
                [.. bound.output.Value.Dimensions.Select(d => (long)d)],
                bound.field!))
            .ToList();
        return new ModelCard(
            name, version, ModelTasks.BinaryClassification, inputs, outputs, new Dictionary<string, double>(),
            new ModelLineage("benchmark", "synthetic-30", ContentDigest.Compute([]), trainingRows, "LightGbm", new Dictionary<string, string>(), "benchmark"),
            [], DateTimeOffset.UnixEpoch);
    }

    private sealed class LargeRow
    {
        [VectorType(LargeFeatures)]
        public float[] Features { get; set; } = [];

        public bool Label { get; set; }

        public static LargeRow Random(Random random)
        {
            var features = new float[LargeFeatures];
            for (var i = 0; i < features.Length; i++)
            {
                features[i] = (float)((random.NextDouble() * 2) - 1);
            }

            var signal = 0.0;
            for (var i = 0; i < features.Length; i++)
            {
                signal += Math.Sin((i + 1) * features[i]) * (i % 3 == 0 ? 1.5 : 0.5);
            }

            return new LargeRow { Features = features, Label = signal + (random.NextDouble() - 0.5) > 0 };
        }
    }

    private sealed class LargeInput
    {
        [VectorType(LargeFeatures)]
        public float[] Features { get; set; } = [];
    }
}
