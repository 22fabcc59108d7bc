using EdgePlatform.Contracts;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgePlatform.Training.Scoring;

/// <summary>
/// Scores feature rows with ONNX Runtime, binding inputs and outputs exactly as the model
/// card says, the way an edge device does. Used for the parity check and by tests that
/// compare a device's prediction with the cloud's.
/// </summary>
public sealed class OnnxScorer : IDisposable
{
    private readonly InferenceSession _session;
    private readonly IReadOnlyList<ModelInput> _inputs;
    private readonly ModelOutput _label;
    private readonly ModelOutput _score;
    private readonly ModelOutput _probability;

    public OnnxScorer(byte[] onnxModel, ModelCard card)
    {
        ArgumentNullException.ThrowIfNull(onnxModel);
        ArgumentNullException.ThrowIfNull(card);

        foreach (var input in card.Inputs)
        {
            if (input.ElementType is not (TensorElementTypes.Float32 or TensorElementTypes.String) || input.Shape.Count != 2 || input.Shape[1] != 1)
            {
                throw new NotSupportedException(
                    $"Input '{input.Name}' is {input.ElementType} [{string.Join(", ", input.Shape)}]; this scorer feeds scalar float32 or string features shaped [batch, 1].");
            }
        }

        _inputs = card.Inputs;
        _label = Output(card, PredictionFields.Label);
        _score = Output(card, PredictionFields.Score);
        _probability = Output(card, PredictionFields.Probability);
        _session = new InferenceSession(onnxModel);
    }

    public BinaryPrediction Predict(IReadOnlyDictionary<string, float> features) => Predict([features])[0];

    public IReadOnlyList<BinaryPrediction> Predict(IReadOnlyList<IReadOnlyDictionary<string, float>> rows) => Predict(rows, null);

    /// <summary>
    /// Scores rows whose numeric fields are in <paramref name="rows"/> and whose categorical and
    /// text fields are in <paramref name="strings"/> (same row order); a missing string (absent or
    /// null) is fed as the empty string, as training and the device treat it.
    /// </summary>
    public IReadOnlyList<BinaryPrediction> Predict(IReadOnlyList<IReadOnlyDictionary<string, float>> rows, IReadOnlyList<IReadOnlyDictionary<string, string?>>? strings)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (strings is not null && strings.Count != rows.Count)
        {
            throw new ArgumentException($"{strings.Count} rows of strings for {rows.Count} rows of numbers.", nameof(strings));
        }

        if (rows.Count == 0)
        {
            return [];
        }

        var inputValues = new List<OrtValue>(_inputs.Count);
        try
        {
            foreach (var input in _inputs)
            {
                if (input.ElementType == TensorElementTypes.String)
                {
                    var texts = new string[rows.Count];
                    for (var r = 0; r < rows.Count; r++)
                    {
                        texts[r] = strings?[r].GetValueOrDefault(input.Field) ?? string.Empty;
                    }

                    inputValues.Add(OrtValue.CreateFromStringTensor(new DenseTensor<string>(texts, [rows.Count, 1])));
                    continue;
                }

                var values = new float[rows.Count];
                for (var r = 0; r < rows.Count; r++)
                {
                    values[r] = rows[r].TryGetValue(input.Field, out var value)
                        ? value
                        : throw new ArgumentException($"Row {r} has no value for field '{input.Field}', which feeds model input '{input.Name}'.", nameof(rows));
                }

                inputValues.Add(OrtValue.CreateTensorValueFromMemory(values, [rows.Count, 1]));
            }

            using var runOptions = new RunOptions();
            using var results = _session.Run(runOptions, [.. _inputs.Select(i => i.Name)], inputValues, [_label.Name, _score.Name, _probability.Name]);
            var scores = results[1].GetTensorDataAsSpan<float>();
            var probabilities = results[2].GetTensorDataAsSpan<float>();
            var predictions = new BinaryPrediction[rows.Count];
            for (var r = 0; r < predictions.Length; r++)
            {
                predictions[r] = new BinaryPrediction(Label(results[0], r), scores[r], probabilities[r]);
            }

            return predictions;
        }
        finally
        {
            foreach (var value in inputValues)
            {
                value.Dispose();
            }
        }
    }

    public void Dispose() => _session.Dispose();

    private bool Label(OrtValue labels, int row) => _label.ElementType switch
    {
        TensorElementTypes.Bool => labels.GetTensorDataAsSpan<bool>()[row],
        TensorElementTypes.Int64 => labels.GetTensorDataAsSpan<long>()[row] != 0,
        _ => throw new NotSupportedException($"Label output '{_label.Name}' is {_label.ElementType}; expected bool or int64."),
    };

    private static ModelOutput Output(ModelCard card, string field) =>
        card.Outputs.FirstOrDefault(o => o.Field == field)
        ?? throw new ArgumentException($"Model card '{card.Name}' binds no output to prediction field '{field}'.", nameof(card));
}
