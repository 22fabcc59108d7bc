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
    private readonly ModelCard _card;
    private readonly ModelOutput? _label;
    private readonly ModelOutput? _score;
    private readonly ModelOutput? _probability;
    private readonly ModelOutput? _probabilities;

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

        _card = card;
        _inputs = card.Inputs;
        _label = card.Outputs.FirstOrDefault(o => o.Field == PredictionFields.Label);
        _score = card.Outputs.FirstOrDefault(o => o.Field == PredictionFields.Score);
        _probability = card.Outputs.FirstOrDefault(o => o.Field == PredictionFields.Probability);
        _probabilities = card.Outputs.FirstOrDefault(o => o.Field == PredictionFields.Probabilities);
        switch (card.Task)
        {
            case ModelTasks.MulticlassClassification:
                Require(card, _label, PredictionFields.Label);
                Require(card, _probabilities, PredictionFields.Probabilities);
                if (card.Classes is not { Count: > 1 })
                {
                    throw new ArgumentException($"Model card '{card.Name}' is multiclass but lists no classes.", nameof(card));
                }

                break;
            case ModelTasks.Regression:
                Require(card, _score, PredictionFields.Score);
                break;
            default:
                Require(card, _label, PredictionFields.Label);
                Require(card, _score, PredictionFields.Score);
                Require(card, _probability, PredictionFields.Probability);
                break;
        }

        _session = OnnxSessions.Open(onnxModel);
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

        RequireTask(ModelTasks.BinaryClassification);
        using var results = Run(rows, strings, [_label!.Name, _score!.Name, _probability!.Name]);
        var scores = results[1].GetTensorDataAsSpan<float>();
        var probabilities = results[2].GetTensorDataAsSpan<float>();
        var predictions = new BinaryPrediction[rows.Count];
        for (var r = 0; r < predictions.Length; r++)
        {
            predictions[r] = new BinaryPrediction(Label(results[0], r), scores[r], probabilities[r]);
        }

        return predictions;
    }

    /// <summary>Scores rows with a multiclass model: the predicted class (a string output, or an int64 index into the card's classes) and every class's probability.</summary>
    public IReadOnlyList<MulticlassPrediction> PredictMulticlass(IReadOnlyList<IReadOnlyDictionary<string, float>> rows, IReadOnlyList<IReadOnlyDictionary<string, string?>>? strings = null)
    {
        ArgumentNullException.ThrowIfNull(rows);
        RequireTask(ModelTasks.MulticlassClassification);
        if (rows.Count == 0)
        {
            return [];
        }

        var classes = _card.Classes!;
        using var results = Run(rows, strings, [_label!.Name, _probabilities!.Name]);
        var probabilities = results[1].GetTensorDataAsSpan<float>();
        if (probabilities.Length != rows.Count * classes.Count)
        {
            throw new InvalidOperationException($"Output '{_probabilities.Name}' holds {probabilities.Length} values for {rows.Count} rows of {classes.Count} classes.");
        }

        var predictions = new MulticlassPrediction[rows.Count];
        for (var r = 0; r < predictions.Length; r++)
        {
            var label = _label.ElementType switch
            {
                TensorElementTypes.String => results[0].GetStringElement(r),
                TensorElementTypes.Int64 => classes[(int)results[0].GetTensorDataAsSpan<long>()[r]],
                _ => throw new NotSupportedException($"Label output '{_label.Name}' is {_label.ElementType}; a multiclass label is a string or an int64 class index."),
            };
            predictions[r] = new MulticlassPrediction(label, probabilities.Slice(r * classes.Count, classes.Count).ToArray());
        }

        return predictions;
    }

    /// <summary>Scores rows with a regression model.</summary>
    public IReadOnlyList<float> PredictRegression(IReadOnlyList<IReadOnlyDictionary<string, float>> rows, IReadOnlyList<IReadOnlyDictionary<string, string?>>? strings = null)
    {
        ArgumentNullException.ThrowIfNull(rows);
        RequireTask(ModelTasks.Regression);
        if (rows.Count == 0)
        {
            return [];
        }

        using var results = Run(rows, strings, [_score!.Name]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private IDisposableReadOnlyCollection<OrtValue> Run(IReadOnlyList<IReadOnlyDictionary<string, float>> rows, IReadOnlyList<IReadOnlyDictionary<string, string?>>? strings, string[] outputs)
    {
        if (strings is not null && strings.Count != rows.Count)
        {
            throw new ArgumentException($"{strings.Count} rows of strings for {rows.Count} rows of numbers.", nameof(strings));
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
            return _session.Run(runOptions, [.. _inputs.Select(i => i.Name)], inputValues, outputs);
        }
        finally
        {
            foreach (var value in inputValues)
            {
                value.Dispose();
            }
        }
    }

    private void RequireTask(string task)
    {
        if (_card.Task != task && !(task == ModelTasks.BinaryClassification && _probability is not null && _label is not null && _score is not null))
        {
            throw new InvalidOperationException($"Model card '{_card.Name}' is for {_card.Task}, not {task}.");
        }
    }

    private static void Require(ModelCard card, ModelOutput? output, string field)
    {
        if (output is null)
        {
            throw new ArgumentException($"Model card '{card.Name}' binds no output to prediction field '{field}'.", nameof(card));
        }
    }

    public void Dispose() => _session.Dispose();

    private bool Label(OrtValue labels, int row) => _label!.ElementType switch
    {
        TensorElementTypes.Bool => labels.GetTensorDataAsSpan<bool>()[row],
        TensorElementTypes.Int64 => labels.GetTensorDataAsSpan<long>()[row] != 0,
        _ => throw new NotSupportedException($"Label output '{_label.Name}' is {_label.ElementType}; expected bool or int64."),
    };
}
