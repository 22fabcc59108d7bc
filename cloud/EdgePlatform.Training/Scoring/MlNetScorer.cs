using Microsoft.ML;
using Microsoft.ML.Data;

namespace EdgePlatform.Training.Scoring;

/// <summary>
/// Scores one row with the ML.NET model a training run saved (<see cref="TrainedModel.MlNetModel"/>):
/// the cloud's own opinion of an event, to hold against what a device computed with ONNX Runtime.
/// </summary>
public sealed class MlNetScorer
{
    private readonly MLContext _mlContext = new();
    private readonly ITransformer _model;

    public MlNetScorer(byte[] mlNetModel)
    {
        ArgumentNullException.ThrowIfNull(mlNetModel);
        using var stream = new MemoryStream(mlNetModel, writable: false);
        _model = _mlContext.Model.Load(stream, out var inputSchema);
        // A model saved with its training schema would list the label too; only features are inputs.
        FeatureColumns = [.. inputSchema.Where(c => c.Type == NumberDataViewType.Single || c.Type == TextDataViewType.Instance).Select(c => c.Name)];
        StringColumns = [.. inputSchema.Where(c => c.Type == TextDataViewType.Instance).Select(c => c.Name)];
    }

    /// <summary>The features the model reads, numeric and string, in the order it was trained with.</summary>
    public IReadOnlyList<string> FeatureColumns { get; }

    /// <summary>The categorical and text features among <see cref="FeatureColumns"/>.</summary>
    public IReadOnlyList<string> StringColumns { get; }

    public BinaryPrediction Predict(IReadOnlyDictionary<string, float> features)
    {
        ArgumentNullException.ThrowIfNull(features);
        return Predict([features])[0];
    }

    public IReadOnlyList<BinaryPrediction> Predict(IReadOnlyList<IReadOnlyDictionary<string, float>> rows) => Predict(rows, null);

    /// <summary>Scores rows whose string features are in <paramref name="strings"/>; a missing one (absent or null) is the empty string, as in training.</summary>
    public IReadOnlyList<BinaryPrediction> Predict(IReadOnlyList<IReadOnlyDictionary<string, float>> rows, IReadOnlyList<IReadOnlyDictionary<string, string?>>? strings)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var scored = _model.Transform(ColumnarDataView.FromFeatureRows(FeatureColumns, StringColumns, rows, strings));
        return Read(scored);
    }

    internal static IReadOnlyList<BinaryPrediction> Read(IDataView scored)
    {
        var labels = scored.GetColumn<bool>("PredictedLabel").ToArray();
        var scores = scored.GetColumn<float>("Score").ToArray();
        var probabilities = scored.GetColumn<float>("Probability").ToArray();
        return [.. labels.Select((label, i) => new BinaryPrediction(label, scores[i], probabilities[i]))];
    }

    /// <summary>Scores rows with a multiclass model: the predicted class name and each class's probability.</summary>
    public IReadOnlyList<MulticlassPrediction> PredictMulticlass(IReadOnlyList<IReadOnlyDictionary<string, float>> rows, IReadOnlyList<IReadOnlyDictionary<string, string?>>? strings = null)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return ReadMulticlass(_model.Transform(ColumnarDataView.FromFeatureRows(FeatureColumns, StringColumns, rows, strings)));
    }

    /// <summary>Scores rows with a regression model.</summary>
    public IReadOnlyList<float> PredictRegression(IReadOnlyList<IReadOnlyDictionary<string, float>> rows, IReadOnlyList<IReadOnlyDictionary<string, string?>>? strings = null)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return ReadRegression(_model.Transform(ColumnarDataView.FromFeatureRows(FeatureColumns, StringColumns, rows, strings)));
    }

    internal static IReadOnlyList<MulticlassPrediction> ReadMulticlass(IDataView scored)
    {
        var labels = scored.GetColumn<ReadOnlyMemory<char>>("PredictedLabel").Select(l => l.ToString()).ToArray();
        var scores = scored.GetColumn<VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToArray();
        return [.. labels.Select((label, i) => new MulticlassPrediction(label, scores[i]))];
    }

    internal static IReadOnlyList<float> ReadRegression(IDataView scored) => [.. scored.GetColumn<float>("Score")];
}
