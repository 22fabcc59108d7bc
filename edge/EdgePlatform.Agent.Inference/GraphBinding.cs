using EdgePlatform.Contracts;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgePlatform.Agent.Inference;

/// <summary>
/// One graph input fed from <see cref="Width"/> consecutive values of a feature row, starting at
/// <see cref="Offset"/>; for a string input (<see cref="IsString"/>), from one value of the string row.
/// </summary>
internal sealed record InputBinding(string Name, int Offset, int Width, bool IsString = false);

/// <summary>One graph output read as one value per row into a prediction field.</summary>
internal sealed record OutputBinding(string Name, string Field, TensorElementType ElementType, int Rank);

/// <summary>
/// A model card checked against the graph it describes. Everything a card could get wrong is
/// caught here, at load time, with the input or output named, so that a bad package is refused
/// before it is activated rather than failing on every event after.
/// </summary>
internal sealed class GraphBinding
{
    private GraphBinding(InputBinding[] inputs, string[] featureFields, string[] stringFields, string[] acceptingMissing, OutputBinding[] outputs)
    {
        FieldsAcceptingMissing = acceptingMissing;
        Inputs = inputs;
        FeatureFields = featureFields;
        StringFields = stringFields;
        Outputs = outputs;
    }

    /// <summary>Numeric event fields the graph imputes itself (<see cref="ModelInput.AcceptsMissing"/>): bound as NaN when missing.</summary>
    public IReadOnlyList<string> FieldsAcceptingMissing { get; }

    /// <summary>Categorical and text event fields in string-row order; each feeds one string input.</summary>
    public IReadOnlyList<string> StringFields { get; }

    public IReadOnlyList<InputBinding> Inputs { get; }

    /// <summary>Event fields in feature-row order; inputs take consecutive slices of it.</summary>
    public IReadOnlyList<string> FeatureFields { get; }

    public IReadOnlyList<OutputBinding> Outputs { get; }

    public static GraphBinding Create(
        ModelCard card,
        IReadOnlyDictionary<string, NodeMetadata> graphInputs,
        IReadOnlyDictionary<string, NodeMetadata> graphOutputs)
    {
        var inputs = new List<InputBinding>(card.Inputs.Count);
        var featureFields = new List<string>();
        var stringFields = new List<string>();
        var acceptingMissing = new List<string>();
        var fieldOwners = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var input in card.Inputs)
        {
            if (inputs.Exists(bound => bound.Name == input.Name))
            {
                throw new ModelLoadException($"card input '{input.Name}' appears more than once");
            }

            if (!graphInputs.TryGetValue(input.Name, out var node))
            {
                throw new ModelLoadException(
                    $"card input '{input.Name}' is not an input of the graph (graph inputs: {string.Join(", ", graphInputs.Keys)})");
            }

            var fields = BindInput(input, node);
            foreach (var field in fields)
            {
                if (!fieldOwners.TryAdd(field, input.Name))
                {
                    throw new ModelLoadException(
                        $"event field '{field}' is bound to both input '{fieldOwners[field]}' and input '{input.Name}'");
                }
            }

            if (node.ElementDataType == TensorElementType.String)
            {
                inputs.Add(new InputBinding(input.Name, stringFields.Count, 1, IsString: true));
                stringFields.AddRange(fields);
            }
            else
            {
                inputs.Add(new InputBinding(input.Name, featureFields.Count, fields.Length));
                featureFields.AddRange(fields);
                if (input.AcceptsMissing)
                {
                    acceptingMissing.AddRange(fields);
                }
            }
        }

        foreach (var graphInput in graphInputs.Keys)
        {
            if (!inputs.Exists(bound => bound.Name == graphInput))
            {
                throw new ModelLoadException($"graph input '{graphInput}' is not bound by the model card");
            }
        }

        return new GraphBinding([.. inputs], [.. featureFields], [.. stringFields], [.. acceptingMissing], BindOutputs(card.Outputs, graphOutputs));
    }

    public static string ElementTypeName(TensorElementType type) => type switch
    {
        TensorElementType.Float => TensorElementTypes.Float32,
        TensorElementType.Double => TensorElementTypes.Float64,
        TensorElementType.Int64 => TensorElementTypes.Int64,
        TensorElementType.Bool => TensorElementTypes.Bool,
        TensorElementType.Float16 => "float16",
        TensorElementType.BFloat16 => "bfloat16",
        TensorElementType.Int32 => "int32",
        TensorElementType.Int16 => "int16",
        TensorElementType.Int8 => "int8",
        TensorElementType.UInt8 => "uint8",
        TensorElementType.UInt16 => "uint16",
        TensorElementType.UInt32 => "uint32",
        TensorElementType.UInt64 => "uint64",
        TensorElementType.String => "string",
        _ => type.ToString(),
    };

    private static string[] BindInput(ModelInput input, NodeMetadata node)
    {
        if (!node.IsTensor)
        {
            throw new ModelLoadException($"input '{input.Name}' is a {node.OnnxValueType} in the graph; only tensors can be bound to event fields");
        }

        var graphType = ElementTypeName(node.ElementDataType);
        if (!string.Equals(graphType, input.ElementType, StringComparison.Ordinal))
        {
            throw new ModelLoadException($"input '{input.Name}' is {graphType} in the graph but {input.ElementType} in the card");
        }

        if (node.ElementDataType is not (TensorElementType.Float or TensorElementType.String))
        {
            throw new ModelLoadException($"input '{input.Name}' is {graphType}; only float32 and string inputs can be bound to event fields");
        }

        if (!SameShape(input.Shape, node.Dimensions))
        {
            throw new ModelLoadException(
                $"input '{input.Name}' has shape {FormatShape(input.Shape)} in the card but {FormatShape(node.Dimensions)} in the graph");
        }

        if (input.Shape.Count != 2 || input.Shape[0] != -1 || input.Shape[1] < 1)
        {
            throw new ModelLoadException(
                $"input '{input.Name}' has shape {FormatShape(input.Shape)}; event fields bind only to [-1, N] inputs (a batch of N features)");
        }

        var fields = (input.Field ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length == 0)
        {
            throw new ModelLoadException($"input '{input.Name}' binds no event field");
        }

        if (node.ElementDataType == TensorElementType.String && fields.Length != 1)
        {
            throw new ModelLoadException($"string input '{input.Name}' binds {fields.Length} event fields ('{input.Field}'); a string input takes one field, shaped [-1, 1]");
        }

        if (fields.Length != input.Shape[1])
        {
            throw new ModelLoadException(
                $"input '{input.Name}' has shape {FormatShape(input.Shape)} but binds {fields.Length} event field(s) ('{input.Field}')");
        }

        return fields;
    }

    private static OutputBinding[] BindOutputs(IReadOnlyList<ModelOutput> cardOutputs, IReadOnlyDictionary<string, NodeMetadata> graphOutputs)
    {
        var outputs = new List<OutputBinding>(cardOutputs.Count);
        foreach (var output in cardOutputs)
        {
            if (!graphOutputs.TryGetValue(output.Name, out var node))
            {
                throw new ModelLoadException(
                    $"card output '{output.Name}' is not an output of the graph (graph outputs: {string.Join(", ", graphOutputs.Keys)})");
            }

            if (!node.IsTensor)
            {
                throw new ModelLoadException($"output '{output.Name}' is a {node.OnnxValueType} in the graph; only tensors can be read as predictions");
            }

            var graphType = ElementTypeName(node.ElementDataType);
            if (!string.Equals(graphType, output.ElementType, StringComparison.Ordinal))
            {
                throw new ModelLoadException($"output '{output.Name}' is {graphType} in the graph but {output.ElementType} in the card");
            }

            var required = output.Field switch
            {
                PredictionFields.Label => TensorElementType.Bool,
                PredictionFields.Score or PredictionFields.Probability => TensorElementType.Float,
                _ => throw new ModelLoadException(
                    $"output '{output.Name}' is bound to unknown prediction field '{output.Field}' (known: {PredictionFields.Label}, {PredictionFields.Score}, {PredictionFields.Probability})"),
            };
            if (node.ElementDataType != required)
            {
                throw new ModelLoadException(
                    $"output '{output.Name}' is {graphType} but prediction field '{output.Field}' needs {ElementTypeName(required)}");
            }

            if (!SameShape(output.Shape, node.Dimensions))
            {
                throw new ModelLoadException(
                    $"output '{output.Name}' has shape {FormatShape(output.Shape)} in the card but {FormatShape(node.Dimensions)} in the graph");
            }

            if (node.Dimensions.Length == 0 || node.Dimensions[0] != -1 || node.Dimensions.Skip(1).Any(dimension => dimension != 1))
            {
                throw new ModelLoadException(
                    $"output '{output.Name}' has shape {FormatShape(node.Dimensions)}; a prediction field needs one value per row ([-1] or [-1, 1])");
            }

            if (outputs.Exists(bound => bound.Field == output.Field))
            {
                throw new ModelLoadException($"prediction field '{output.Field}' is bound to more than one output");
            }

            outputs.Add(new OutputBinding(output.Name, output.Field, node.ElementDataType, node.Dimensions.Length));
        }

        if (outputs.Count == 0)
        {
            throw new ModelLoadException("the card binds no output to a prediction field");
        }

        return [.. outputs];
    }

    private static bool SameShape(IReadOnlyList<long> card, int[] graph)
    {
        if (card.Count != graph.Length)
        {
            return false;
        }

        for (var i = 0; i < graph.Length; i++)
        {
            if (card[i] != graph[i])
            {
                return false;
            }
        }

        return true;
    }

    private static string FormatShape<T>(IEnumerable<T> shape) => $"[{string.Join(", ", shape)}]";
}
