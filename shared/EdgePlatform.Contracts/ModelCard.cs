using System.Text.Json;

namespace EdgePlatform.Contracts;

/// <summary>
/// The config blob of a model package: what the model is, how device events bind to its
/// inputs, what it outputs, how it was made and what its training data looked like.
/// </summary>
public sealed record ModelCard(
    string Name,
    string Version,
    string Task,
    IReadOnlyList<ModelInput> Inputs,
    IReadOnlyList<ModelOutput> Outputs,
    IReadOnlyDictionary<string, double> Metrics,
    ModelLineage Lineage,
    IReadOnlyList<FeatureBaseline> Baseline,
    DateTimeOffset CreatedAt,
    ParityReport? Parity = null)
{
    /// <summary>A multiclass model's class names, in the order of its probabilities output; null for other tasks.</summary>
    public IReadOnlyList<string>? Classes { get; init; }

    /// <summary>The automated search that chose this model's trainer and settings; null when none did.</summary>
    public ModelSearchSummary? Search { get; init; }

    /// <summary>Reads a package's config blob as a model card; null with <paramref name="problem"/> saying why when it is not one.</summary>
    public static ModelCard? Read(ReadOnlySpan<byte> bytes, out string? problem)
    {
        try
        {
            var card = JsonSerializer.Deserialize(bytes, ContractsJsonContext.Default.ModelCard);
            problem = card is null ? "the model card is empty" : null;
            return card;
        }
        catch (JsonException ex)
        {
            problem = $"the model card is not valid JSON: {ex.Message}";
            return null;
        }
    }
}

/// <summary>
/// One ONNX graph input and the event field that feeds it. Shapes use -1 for the batch
/// dimension, as ML.NET exports them (<c>[-1, 1]</c> for a scalar feature).
/// </summary>
public sealed record ModelInput(string Name, string ElementType, IReadOnlyList<long> Shape, string Field)
{
    /// <summary>
    /// True when the graph itself replaces a missing value of this numeric input (it was trained
    /// with a missing-value replacement): a device binds an absent or null field as NaN instead of
    /// refusing the event. String inputs always accept a missing value (the empty string).
    /// Absent on older cards, which is false.
    /// </summary>
    public bool AcceptsMissing { get; init; }
}

/// <summary>
/// One ONNX graph output and the prediction field it is published as
/// (<see cref="PredictionFields"/>).
/// </summary>
public sealed record ModelOutput(string Name, string ElementType, IReadOnlyList<long> Shape, string Field);

/// <summary>
/// How closely ONNX Runtime reproduced the trained model on held-out rows before the package was
/// published: the rule each score and probability was held to (<c>|a − b| ≤ absolute + relative ·
/// max(|a|, |b|)</c>, so the allowance grows with magnitude as float32 steps do), how many rows
/// were compared, and the row that came closest to its allowance. On an imported model it records
/// the author's sample against ONNX Runtime (the expected value stands in for the trained one, the
/// line is the sample row, from 1). Null on cards made before it was recorded.
/// </summary>
public sealed record ParityReport(
    string Rule,
    double AbsoluteTolerance,
    double RelativeTolerance,
    int RowsCompared,
    ParityRow? Worst);

/// <summary>
/// One compared value: the output, the CSV line of the row, both predictions, their absolute
/// difference and what the rule allowed for them.
/// </summary>
public sealed record ParityRow(string Output, int Line, double Trained, double OnnxRuntime, double Difference, double Allowed);

public sealed record ModelLineage(
    string TrainingRunId,
    string DatasetName,
    string DatasetDigest,
    int DatasetRows,
    string Trainer,
    IReadOnlyDictionary<string, string> Parameters,
    string CodeVersion);

/// <summary>
/// Training-time statistics of one feature, the baseline drift is measured against.
/// <see cref="DecileEdges"/> are the nine values that cut the training data into tenths (the
/// 10th to 90th percentiles, nondecreasing); null on cards made before they were recorded, where
/// a device derives them from <see cref="Mean"/> and <see cref="StdDev"/> under a normal assumption.
/// </summary>
public sealed record FeatureBaseline(string Name, double Mean, double StdDev, double Min, double Max, IReadOnlyList<double>? DecileEdges = null)
{
    public bool Equals(FeatureBaseline? other) =>
        other is not null
        && string.Equals(Name, other.Name, StringComparison.Ordinal)
        && Mean.Equals(other.Mean)
        && StdDev.Equals(other.StdDev)
        && Min.Equals(other.Min)
        && Max.Equals(other.Max)
        && (DecileEdges is null ? other.DecileEdges is null : other.DecileEdges is not null && DecileEdges.SequenceEqual(other.DecileEdges));

    public override int GetHashCode() => HashCode.Combine(Name, Mean, StdDev, Min, Max);
}

public static class ModelTasks
{
    public const string BinaryClassification = "binary-classification";

    /// <summary>
    /// One of several classes: the card lists them in <see cref="ModelCard.Classes"/>; the graph's
    /// <see cref="PredictionFields.Label"/> output is the predicted class (a string, or an int64
    /// index into the classes) and its <see cref="PredictionFields.Probabilities"/> output a
    /// float32 [-1, classes] tensor in the same order.
    /// </summary>
    public const string MulticlassClassification = "multiclass-classification";

    /// <summary>A number: the graph's <see cref="PredictionFields.Score"/> output is the prediction.</summary>
    public const string Regression = "regression";

    public static IReadOnlyList<string> All { get; } = [BinaryClassification, MulticlassClassification, Regression];
}

[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "Names mirror the ONNX tensor element types they stand for.")]
public static class TensorElementTypes
{
    public const string Float32 = "float32";
    public const string Float64 = "float64";
    public const string Int64 = "int64";
    public const string Bool = "bool";

    /// <summary>UTF-8 text: a categorical or text event field, fed raw to the graph, which encodes it.</summary>
    public const string String = "string";

    /// <summary>The name of an ONNX <c>TensorProto.DataType</c> (as ONNX Runtime's element type enumerates it).</summary>
    public static string FromOnnxDataType(int dataType) => dataType switch
    {
        1 => Float32,
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => Int64,
        8 => String,
        9 => Bool,
        10 => "float16",
        11 => Float64,
        12 => "uint32",
        13 => "uint64",
        16 => "bfloat16",
        _ => $"onnx-type-{dataType}",
    };
}

/// <summary>Names of the fields a prediction carries, as bound in <see cref="ModelOutput.Field"/>.</summary>
public static class PredictionFields
{
    public const string Label = "label";
    public const string Score = "score";
    public const string Probability = "probability";

    /// <summary>A multiclass model's probability of each of <see cref="ModelCard.Classes"/>, a float32 [-1, classes] output.</summary>
    public const string Probabilities = "probabilities";
}
