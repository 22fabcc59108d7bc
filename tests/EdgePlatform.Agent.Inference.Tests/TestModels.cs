using System.Globalization;
using System.Text;
using EdgePlatform.Contracts;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgePlatform.Agent.Inference.Tests;

/// <summary>
/// Real ML.NET models exported to ONNX the way the training side exports them, trained once
/// for the whole suite: a FastTree classifier over three scalar feature columns, and a
/// logistic regression over one three-wide feature vector.
/// </summary>
public sealed class TestModels : IDisposable
{
    public const string Temperature = "temperature_c";
    public const string Vibration = "vibration_mm_s";
    public const string Pressure = "pressure_kpa";

    private readonly string _directory = System.IO.Directory.CreateTempSubdirectory("edge-inference-tests-").FullName;
    private readonly MLContext _mlContext = new(seed: 7);
    private readonly ITransformer _scalarModel;
    private readonly ITransformer _vectorModel;

    public TestModels()
    {
        var training = SensorRow.Generate(new Random(42), 1000);
        var trainingView = _mlContext.Data.LoadFromEnumerable(training);

        _scalarModel = _mlContext.Transforms.Concatenate("Features", Temperature, Vibration, Pressure)
            .Append(_mlContext.BinaryClassification.Trainers.FastTree(
                numberOfLeaves: 8, numberOfTrees: 20, minimumExampleCountPerLeaf: 10))
            .Fit(trainingView);
        ScalarModelPath = Export(_scalarModel, _mlContext.Data.LoadFromEnumerable(SensorFeatures.From(training.Take(1))), "scalar.onnx");
        ScalarCard = CardFor(ScalarModelPath, "pump-failure", "1.0.0", _ => null);

        var vectorTraining = _mlContext.Data.LoadFromEnumerable(training.Select(row => new VectorRow { Features = row.Values, Label = row.Label }));
        _vectorModel = _mlContext.BinaryClassification.Trainers.LbfgsLogisticRegression().Fit(vectorTraining);
        VectorModelPath = Export(_vectorModel, _mlContext.Data.LoadFromEnumerable(VectorFeatures.From(training.Take(1))), "vector.onnx");
        VectorCard = CardFor(VectorModelPath, "pump-failure-vector", "1.0.0", _ => $"{Temperature}, {Vibration}, {Pressure}");

        TestRows = SensorRow.Generate(new Random(1234), 64);
    }

    public string ScalarModelPath { get; }

    public ModelCard ScalarCard { get; }

    public string VectorModelPath { get; }

    public ModelCard VectorCard { get; }

    /// <summary>Rows the models never saw, from the training distribution.</summary>
    public IReadOnlyList<SensorRow> TestRows { get; }

    /// <summary>Where a test may write files; removed with the fixture.</summary>
    public string Directory => _directory;

    public IReadOnlyList<MlNetPrediction> PredictScalarWithMlNet(IEnumerable<SensorRow> rows) =>
        Predict(_scalarModel, _mlContext.Data.LoadFromEnumerable(SensorFeatures.From(rows)));

    public IReadOnlyList<MlNetPrediction> PredictVectorWithMlNet(IEnumerable<SensorRow> rows) =>
        Predict(_vectorModel, _mlContext.Data.LoadFromEnumerable(VectorFeatures.From(rows)));

    public LoadedModel LoadScalar(string version = "1.0.0") =>
        LoadedModel.Load(ScalarCard with { Version = version }, ScalarModelPath, new OnnxModelSettings());

    public static byte[] EventJson(SensorRow row, string? id)
    {
        var idPart = id is null ? string.Empty : $"\"{EventFields.CorrelationId}\":\"{id}\",";
        return Encoding.UTF8.GetBytes(string.Create(
            CultureInfo.InvariantCulture,
            $"{{{idPart}\"{Temperature}\":{row.Temperature:R},\"{Vibration}\":{row.Vibration:R},\"{Pressure}\":{row.Pressure:R},\"site\":\"north\"}}"));
    }

    public void Dispose() => System.IO.Directory.Delete(_directory, recursive: true);

    private List<MlNetPrediction> Predict(ITransformer model, IDataView features) =>
        [.. _mlContext.Data.CreateEnumerable<MlNetPrediction>(model.Transform(features), reuseRowObject: false)];

    private string Export(ITransformer model, IDataView featuresOnly, string fileName)
    {
        var path = Path.Combine(_directory, fileName);
        using (var stream = File.Create(path))
        {
            _mlContext.Model.ConvertToOnnx(model, featuresOnly, stream, "PredictedLabel", "Score", "Probability");
        }

        return path;
    }

    /// <summary>The card the training side would write: names, types and shapes as ONNX Runtime reports them.</summary>
    private static ModelCard CardFor(string onnxPath, string name, string version, Func<string, string?> fieldsOf)
    {
        using var session = new InferenceSession(onnxPath);
        var inputs = session.InputMetadata
            .Select(input => new ModelInput(
                input.Key, ElementTypeOf(input.Value), ShapeOf(input.Value), fieldsOf(input.Key) ?? input.Key))
            .ToList();
        var outputs = session.OutputMetadata
            .Select(output => (output, field: PredictionFieldOf(output.Key)))
            .Where(bound => bound.field is not null)
            .Select(bound => new ModelOutput(
                bound.output.Key, ElementTypeOf(bound.output.Value), ShapeOf(bound.output.Value), bound.field!))
            .ToList();
        return new ModelCard(
            name,
            version,
            ModelTasks.BinaryClassification,
            inputs,
            outputs,
            new Dictionary<string, double>(),
            new ModelLineage("run-1", "sensors", ContentDigest.Compute([]), 1000, "FastTree", new Dictionary<string, string>(), "test"),
            [],
            DateTimeOffset.UnixEpoch);
    }

    private static string ElementTypeOf(NodeMetadata node) => node.ElementDataType switch
    {
        TensorElementType.Float => TensorElementTypes.Float32,
        TensorElementType.Bool => TensorElementTypes.Bool,
        TensorElementType.Int64 => TensorElementTypes.Int64,
        var other => throw new NotSupportedException($"no card type for {other}"),
    };

    private static long[] ShapeOf(NodeMetadata node) => [.. node.Dimensions.Select(dimension => (long)dimension)];

    private static string? PredictionFieldOf(string outputName) =>
        outputName.StartsWith("PredictedLabel", StringComparison.Ordinal) ? PredictionFields.Label
        : outputName.StartsWith("Score", StringComparison.Ordinal) ? PredictionFields.Score
        : outputName.StartsWith("Probability", StringComparison.Ordinal) ? PredictionFields.Probability
        : null;
}

[CollectionDefinition(Name)]
public sealed class TestModelsGroup : ICollectionFixture<TestModels>
{
    public const string Name = "test models";
}

public sealed class SensorRow
{
    [ColumnName(TestModels.Temperature)]
    public float Temperature { get; set; }

    [ColumnName(TestModels.Vibration)]
    public float Vibration { get; set; }

    [ColumnName(TestModels.Pressure)]
    public float Pressure { get; set; }

    public bool Label { get; set; }

    public float[] Values => [Temperature, Vibration, Pressure];

    public static List<SensorRow> Generate(Random random, int count)
    {
        var rows = new List<SensorRow>(count);
        for (var i = 0; i < count; i++)
        {
            var temperature = 60 + (10 * Gaussian(random));
            var vibration = 10 * random.NextSingle();
            var pressure = 100 + (5 * Gaussian(random));
            var risk = (0.08f * (temperature - 60)) + (0.3f * (vibration - 5)) - (0.1f * (pressure - 100)) + (0.5f * Gaussian(random));
            rows.Add(new SensorRow { Temperature = temperature, Vibration = vibration, Pressure = pressure, Label = risk > 0 });
        }

        return rows;
    }

    private static float Gaussian(Random random) =>
        MathF.Sqrt(-2 * MathF.Log(1 - random.NextSingle())) * MathF.Cos(2 * MathF.PI * random.NextSingle());
}

public sealed class SensorFeatures
{
    [ColumnName(TestModels.Temperature)]
    public float Temperature { get; set; }

    [ColumnName(TestModels.Vibration)]
    public float Vibration { get; set; }

    [ColumnName(TestModels.Pressure)]
    public float Pressure { get; set; }

    public static IEnumerable<SensorFeatures> From(IEnumerable<SensorRow> rows) =>
        rows.Select(row => new SensorFeatures { Temperature = row.Temperature, Vibration = row.Vibration, Pressure = row.Pressure });
}

public sealed class VectorRow
{
    [VectorType(3)]
    public float[] Features { get; set; } = [];

    public bool Label { get; set; }
}

public sealed class VectorFeatures
{
    [VectorType(3)]
    public float[] Features { get; set; } = [];

    public static IEnumerable<VectorFeatures> From(IEnumerable<SensorRow> rows) =>
        rows.Select(row => new VectorFeatures { Features = row.Values });
}

public sealed class MlNetPrediction
{
    public bool PredictedLabel { get; set; }

    public float Score { get; set; }

    public float Probability { get; set; }
}
