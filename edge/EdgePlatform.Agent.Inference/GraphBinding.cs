using EdgePlatform.Contracts;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgePlatform.Agent.Inference;

/// <summary>
/// One graph input fed from <see cref="Width"/> consecutive values of a feature row, starting at
/// <see cref="Offset"/>; for a string input (<see cref="IsString"/>), from one value of the string row.
/// </summary>
internal sealed record InputBinding(string Name, int Offset, int Width, bool IsString = false);

/// <summary>One graph output read as <see cref="Width"/> values per row (one, or one per class) into a prediction field.</summary>
internal sealed record OutputBinding(string Name, string Field, TensorElementType ElementType, int Rank, int Width = 1);

/// <summary>
/// A model card checked against the graph it describes (<see cref="ModelCardBinding"/>, the rules
/// the control plane also checks an imported model by). Everything a card could get wrong is
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
        CardBindingPlan plan;
        try
        {
            plan = ModelCardBinding.Check(card, Describe(graphInputs), Describe(graphOutputs));
        }
        catch (ModelCardBindingException ex)
        {
            throw new ModelLoadException(ex.Message, ex);
        }

        var inputs = new List<InputBinding>(plan.Inputs.Count);
        var featureFields = new List<string>();
        var stringFields = new List<string>();
        var acceptingMissing = new List<string>();
        foreach (var input in plan.Inputs)
        {
            if (input.IsString)
            {
                inputs.Add(new InputBinding(input.Input.Name, stringFields.Count, 1, IsString: true));
                stringFields.AddRange(input.Fields);
            }
            else
            {
                inputs.Add(new InputBinding(input.Input.Name, featureFields.Count, input.Fields.Count));
                featureFields.AddRange(input.Fields);
                if (input.Input.AcceptsMissing)
                {
                    acceptingMissing.AddRange(input.Fields);
                }
            }
        }

        var outputs = plan.Outputs
            .Select(output => new OutputBinding(output.Output.Name, output.Output.Field, graphOutputs[output.Output.Name].ElementDataType, output.Rank, output.Width))
            .ToArray();
        return new GraphBinding([.. inputs], [.. featureFields], [.. stringFields], [.. acceptingMissing], outputs);
    }

    public static string ElementTypeName(TensorElementType type) => TensorElementTypes.FromOnnxDataType((int)type);

    private static Dictionary<string, GraphTensor> Describe(IReadOnlyDictionary<string, NodeMetadata> nodes) =>
        nodes.ToDictionary(
            node => node.Key,
            node => node.Value.IsTensor
                ? new GraphTensor(node.Key, ElementTypeName(node.Value.ElementDataType), [.. node.Value.Dimensions.Select(dimension => (long)dimension)])
                : new GraphTensor(node.Key, string.Empty, [], IsTensor: false, Kind: node.Value.OnnxValueType.ToString()),
            StringComparer.Ordinal);
}
