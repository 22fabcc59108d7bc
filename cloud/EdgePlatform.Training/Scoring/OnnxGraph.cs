using EdgePlatform.Contracts;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgePlatform.Training.Scoring;

/// <summary>
/// Reads the bindings of an exported graph from ONNX Runtime itself rather than assuming
/// ML.NET's naming, so the card describes what a device will actually load.
/// </summary>
internal static class OnnxGraph
{
    /// <summary>The ML.NET columns a binary classifier scores into, and the prediction field each becomes.</summary>
    internal static readonly (string Column, string Field)[] BinaryOutputs =
    [
        ("PredictedLabel", PredictionFields.Label),
        ("Score", PredictionFields.Score),
        ("Probability", PredictionFields.Probability),
    ];

    /// <summary>A multiclass model's columns: the predicted class (mapped back to its name) and the probability of each class.</summary>
    internal static readonly (string Column, string Field)[] MulticlassOutputs =
    [
        ("PredictedLabel", PredictionFields.Label),
        ("Score", PredictionFields.Probabilities),
    ];

    /// <summary>A regression model's one column.</summary>
    internal static readonly (string Column, string Field)[] RegressionOutputs = [("Score", PredictionFields.Score)];

    /// <summary>The columns a model for <paramref name="task"/> scores into.</summary>
    internal static (string Column, string Field)[] OutputsFor(string task) => task switch
    {
        ModelTasks.MulticlassClassification => MulticlassOutputs,
        ModelTasks.Regression => RegressionOutputs,
        _ => BinaryOutputs,
    };

    public static (IReadOnlyList<ModelInput> Inputs, IReadOnlyList<ModelOutput> Outputs) DescribeBinaryClassifier(
        byte[] onnxModel, IReadOnlyList<string> featureColumns) => Describe(onnxModel, featureColumns, BinaryOutputs);

    public static (IReadOnlyList<ModelInput> Inputs, IReadOnlyList<ModelOutput> Outputs) Describe(
        byte[] onnxModel, IReadOnlyList<string> featureColumns, (string Column, string Field)[] bindings)
    {
        using var session = OnnxSessions.Open(onnxModel);

        var inputs = session.InputMetadata
            .Select(input => featureColumns.Contains(input.Key, StringComparer.Ordinal)
                ? new ModelInput(input.Key, ElementTypeName(input.Key, input.Value), Shape(input.Value), input.Key)
                : throw new InvalidOperationException(
                    $"The exported graph has an input '{input.Key}' that is not a feature column ({string.Join(", ", featureColumns)}); only features may be graph inputs."))
            .ToArray();
        var missing = featureColumns.Where(f => inputs.All(i => i.Field != f)).ToArray();
        if (missing.Length > 0)
        {
            throw new InvalidOperationException($"The exported graph has no input for feature(s) {string.Join(", ", missing)}.");
        }

        var outputs = bindings
            .Select(binding =>
            {
                var output = session.OutputMetadata
                    .Where(o => o.Key == binding.Column || o.Key.StartsWith(binding.Column + ".", StringComparison.Ordinal))
                    .Select(o => (KeyValuePair<string, NodeMetadata>?)o)
                    .FirstOrDefault()
                    ?? throw new InvalidOperationException(
                        $"The exported graph has no output for ML.NET column '{binding.Column}'; its outputs are: {string.Join(", ", session.OutputMetadata.Keys)}.");
                return new ModelOutput(output.Key, ElementTypeName(output.Key, output.Value), Shape(output.Value), binding.Field);
            })
            .ToArray();

        return (inputs, outputs);
    }

    private static long[] Shape(NodeMetadata metadata) =>
        [.. metadata.Dimensions.Select(d => d < 0 ? -1L : d)];

    private static string ElementTypeName(string name, NodeMetadata metadata) =>
        metadata.OnnxValueType != OnnxValueType.ONNX_TYPE_TENSOR
            ? throw new InvalidOperationException($"Graph value '{name}' is a {metadata.OnnxValueType}, not a tensor; the model card can only describe tensors.")
            : metadata.ElementDataType switch
            {
                TensorElementType.Float => TensorElementTypes.Float32,
                TensorElementType.Double => TensorElementTypes.Float64,
                TensorElementType.Int64 => TensorElementTypes.Int64,
                TensorElementType.Bool => TensorElementTypes.Bool,
                TensorElementType.String => TensorElementTypes.String,
                var other => throw new InvalidOperationException(
                    $"Graph value '{name}' has element type {other}; the model card describes only float32, float64, int64, bool and string."),
            };
}
