using System.Globalization;
using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.Training.Scoring;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgePlatform.Training.Import;

/// <summary>
/// Checks a model trained elsewhere before it is signed: ONNX Runtime loads the graph, the card
/// binds it by the same rules a device loads it by (<see cref="ModelCardBinding"/>), and the graph
/// gives each sample row the outputs its author expects, within <see cref="ParityTolerance"/>.
/// </summary>
public static class ImportedModelCheck
{
    /// <summary>Most sample rows checked; a sample is evidence, not a test set.</summary>
    public const int MaxSampleRows = 10_000;

    public const string Rule = "|expected - onnxRuntime| <= absolute + relative * max(|expected|, |onnxRuntime|)";

    /// <summary>Runs the checks; returns what the sample showed, for <see cref="ModelCard.Parity"/>.</summary>
    /// <exception cref="ModelImportException">A check failed; its field and message say which and why.</exception>
    public static ParityReport Check(ModelCard card, byte[] onnx, ModelImportSample sample, ParityTolerance tolerance)
    {
        ArgumentNullException.ThrowIfNull(card);
        ArgumentNullException.ThrowIfNull(onnx);
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(tolerance);
        var rows = sample.Rows ?? [];
        if (rows.Count == 0)
        {
            throw new ModelImportException("sample.rows", "the sample has no rows; give at least one event with its expected outputs");
        }

        if (rows.Count > MaxSampleRows)
        {
            throw new ModelImportException("sample.rows", $"the sample has {rows.Count} rows; at most {MaxSampleRows} are checked");
        }

        using var session = Open(onnx);
        CardBindingPlan plan;
        try
        {
            plan = ModelCardBinding.Check(card, Describe(session.InputMetadata), Describe(session.OutputMetadata));
        }
        catch (ModelCardBindingException ex)
        {
            throw new ModelImportException("card", ex.Message, ex);
        }

        var inputs = plan.Inputs.Select(input => Bind(input, rows)).ToList();
        using var results = session.Run(inputs, [.. plan.Outputs.Select(output => output.Output.Name)]);
        var outputs = results.ToDictionary(result => result.Name, StringComparer.Ordinal);
        var comparison = new Comparison(card, plan, outputs, tolerance);
        for (var row = 0; row < rows.Count; row++)
        {
            comparison.Row(row, rows[row].Expected);
        }

        return new ParityReport(Rule, tolerance.Absolute, tolerance.Relative, rows.Count, comparison.Worst);
    }

    private static InferenceSession Open(byte[] onnx)
    {
        try
        {
            return OnnxSessions.Open(onnx);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new ModelImportException("onnx", $"ONNX Runtime cannot load the graph: {ex.Message}", ex);
        }
    }

    private static Dictionary<string, GraphTensor> Describe(IReadOnlyDictionary<string, NodeMetadata> nodes) =>
        nodes.ToDictionary(
            node => node.Key,
            node => node.Value.IsTensor
                ? new GraphTensor(node.Key, TensorElementTypes.FromOnnxDataType((int)node.Value.ElementDataType), [.. node.Value.Dimensions.Select(d => (long)d)])
                : new GraphTensor(node.Key, string.Empty, [], IsTensor: false, Kind: node.Value.OnnxValueType.ToString()),
            StringComparer.Ordinal);

    /// <summary>One input's tensor over every sample row, read from each row's event as a device reads it.</summary>
    private static NamedOnnxValue Bind(BoundInput input, IReadOnlyList<ModelImportSampleRow> rows)
    {
        var width = input.Fields.Count;
        if (input.IsString)
        {
            var strings = new string[rows.Count];
            for (var row = 0; row < rows.Count; row++)
            {
                strings[row] = Field(rows[row].Event, row, input.Fields[0]) switch
                {
                    { ValueKind: JsonValueKind.String } value => value.GetString()!,
                    null or { ValueKind: JsonValueKind.Null } => string.Empty,
                    { } value => throw new ModelImportException(
                        $"sample.rows[{row}].event.{input.Fields[0]}", $"is {value.ValueKind.ToString().ToLowerInvariant()}; input '{input.Input.Name}' takes a string"),
                };
            }

            return NamedOnnxValue.CreateFromTensor(input.Input.Name, new DenseTensor<string>(strings, [rows.Count, 1]));
        }

        var values = new float[rows.Count * width];
        for (var row = 0; row < rows.Count; row++)
        {
            for (var column = 0; column < width; column++)
            {
                var field = input.Fields[column];
                values[(row * width) + column] = Field(rows[row].Event, row, field) switch
                {
                    { ValueKind: JsonValueKind.Number } value when value.TryGetSingle(out var number) && float.IsFinite(number) => number,
                    null or { ValueKind: JsonValueKind.Null } when input.Input.AcceptsMissing => float.NaN,
                    null => throw new ModelImportException($"sample.rows[{row}].event.{field}", $"is missing; input '{input.Input.Name}' needs it"),
                    { } value => throw new ModelImportException(
                        $"sample.rows[{row}].event.{field}", $"is {value.GetRawText()}; input '{input.Input.Name}' takes a finite float32 number"),
                };
            }
        }

        return NamedOnnxValue.CreateFromTensor(input.Input.Name, new DenseTensor<float>(values, [rows.Count, width]));
    }

    private static JsonElement? Field(JsonElement sampleEvent, int row, string field)
    {
        if (sampleEvent.ValueKind != JsonValueKind.Object)
        {
            throw new ModelImportException($"sample.rows[{row}].event", "is not a JSON object of event fields");
        }

        return sampleEvent.TryGetProperty(field, out var value) ? value : null;
    }

    /// <summary>Compares each row's outputs with what the sample expects, keeping the row closest to its allowance.</summary>
    private sealed class Comparison
    {
        private readonly ModelCard _card;
        private readonly ParityTolerance _tolerance;
        private readonly Dictionary<string, (BoundOutput Bound, DisposableNamedOnnxValue Value)> _byField;
        private readonly bool _multiclass;
        private double _worstRatio = -1;

        public Comparison(ModelCard card, CardBindingPlan plan, Dictionary<string, DisposableNamedOnnxValue> outputs, ParityTolerance tolerance)
        {
            _card = card;
            _tolerance = tolerance;
            _multiclass = string.Equals(card.Task, ModelTasks.MulticlassClassification, StringComparison.Ordinal);
            _byField = plan.Outputs.ToDictionary(output => output.Output.Field, output => (output, outputs[output.Output.Name]), StringComparer.Ordinal);
        }

        public ParityRow? Worst { get; private set; }

        public void Row(int row, IReadOnlyDictionary<string, JsonElement>? expected)
        {
            if (expected is not { Count: > 0 })
            {
                throw new ModelImportException($"sample.rows[{row}].expected", "names no output; give the prediction fields this event should produce");
            }

            foreach (var (field, value) in expected)
            {
                var at = $"sample.rows[{row}].expected.{field}";
                switch (field)
                {
                    case PredictionFields.Label when _multiclass:
                        CompareClass(row, at, value);
                        break;
                    case PredictionFields.Label:
                        CompareBool(row, at, value);
                        break;
                    case PredictionFields.Score or PredictionFields.Probability:
                        var output = Output(field, at);
                        Compare(row, at, output.Bound.Output.Name, Number(value, at), output.Value.AsTensor<float>().GetValue(row));
                        break;
                    case PredictionFields.Probabilities:
                        CompareProbabilities(row, at, value);
                        break;
                    default:
                        throw new ModelImportException(at, $"'{field}' is not a prediction field (known: {PredictionFields.Label}, {PredictionFields.Score}, {PredictionFields.Probability}, {PredictionFields.Probabilities})");
                }
            }
        }

        private (BoundOutput Bound, DisposableNamedOnnxValue Value) Output(string field, string at) =>
            _byField.TryGetValue(field, out var output)
                ? output
                : throw new ModelImportException(at, $"the card binds no output to '{field}', so there is nothing to compare it with");

        private void CompareBool(int row, string at, JsonElement value)
        {
            var expected = value.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                JsonValueKind.Number when value.TryGetInt32(out var number) && number is 0 or 1 => number == 1,
                _ => throw new ModelImportException(at, $"is {value.GetRawText()}; a binary label is true, false, 0 or 1"),
            };
            var actual = Output(PredictionFields.Label, at).Value.AsTensor<bool>().GetValue(row);
            if (actual != expected)
            {
                throw new ModelImportException(at, $"expected label {Lower(expected)}, ONNX Runtime gave {Lower(actual)}");
            }
        }

        private void CompareClass(int row, string at, JsonElement value)
        {
            if (value.ValueKind != JsonValueKind.String || !_card.Classes!.Contains(value.GetString()!, StringComparer.Ordinal))
            {
                throw new ModelImportException(at, $"is {value.GetRawText()}; a multiclass label is one of the card's classes ({string.Join(", ", _card.Classes!)})");
            }

            var expected = value.GetString()!;
            var actual = PredictedClass(row, at);
            if (!string.Equals(actual, expected, StringComparison.Ordinal))
            {
                throw new ModelImportException(at, $"expected class '{expected}', ONNX Runtime gave '{actual}'");
            }
        }

        /// <summary>The label output's class (a name, or an index into the classes), else the most probable class; as a device reads it.</summary>
        private string PredictedClass(int row, string at)
        {
            var classes = _card.Classes!;
            if (_byField.TryGetValue(PredictionFields.Label, out var label))
            {
                if (label.Bound.ElementType == TensorElementTypes.String)
                {
                    var name = label.Value.AsTensor<string>().GetValue(row);
                    return classes.Contains(name, StringComparer.Ordinal)
                        ? name
                        : throw new ModelImportException(at, $"output '{label.Bound.Output.Name}' gave class '{name}', which is not one of the card's classes");
                }

                var index = label.Value.AsTensor<long>().GetValue(row);
                return index >= 0 && index < classes.Count
                    ? classes[(int)index]
                    : throw new ModelImportException(at, $"output '{label.Bound.Output.Name}' gave class index {index}, outside the card's {classes.Count} classes");
            }

            var probabilities = Output(PredictionFields.Probabilities, at).Value.AsTensor<float>();
            var best = 0;
            for (var c = 1; c < classes.Count; c++)
            {
                if (probabilities[row, c] > probabilities[row, best])
                {
                    best = c;
                }
            }

            return classes[best];
        }

        private void CompareProbabilities(int row, string at, JsonElement value)
        {
            var output = Output(PredictionFields.Probabilities, at);
            var classes = _card.Classes!.Count;
            if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() != classes)
            {
                throw new ModelImportException(at, $"is {value.GetRawText()}; give {classes} probabilities, one per class in the card's order");
            }

            var tensor = output.Value.AsTensor<float>();
            var column = 0;
            foreach (var item in value.EnumerateArray())
            {
                var itemAt = $"{at}[{column}]";
                Compare(row, itemAt, $"{output.Bound.Output.Name}[{_card.Classes![column]}]", Number(item, itemAt), tensor[row, column]);
                column++;
            }
        }

        private void Compare(int row, string at, string output, double expected, double actual)
        {
            var difference = Math.Abs(expected - actual);
            var allowed = _tolerance.Allowed(expected, actual);
            if (!(difference <= allowed))
            {
                throw new ModelImportException(
                    at,
                    string.Create(CultureInfo.InvariantCulture, $"expected {expected:R}, ONNX Runtime gave {actual:R} for output '{output}': off by {difference:G3}, more than the {allowed:G3} allowed ({_tolerance})"));
            }

            var ratio = allowed > 0 ? difference / allowed : 0;
            if (ratio > _worstRatio)
            {
                _worstRatio = ratio;
                Worst = new ParityRow(output, row + 1, expected, actual, difference, allowed);
            }
        }

        private static double Number(JsonElement value, string at) =>
            value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number) && double.IsFinite(number)
                ? number
                : throw new ModelImportException(at, $"is {value.GetRawText()}; expected a finite number");

        private static string Lower(bool value) => value ? "true" : "false";
    }
}
