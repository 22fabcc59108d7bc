namespace EdgePlatform.Contracts;

/// <summary>
/// One input or output of an ONNX graph as its runtime reports it: element type in
/// <see cref="TensorElementTypes"/> spelling, dimensions with -1 where one is symbolic (the batch),
/// and whether it is a tensor at all (a sequence or map is not).
/// </summary>
public sealed record GraphTensor(string Name, string ElementType, IReadOnlyList<long> Shape, bool IsTensor = true, string Kind = "tensor");

/// <summary>A card input checked against the graph: the event fields it binds, in tensor column order.</summary>
public sealed record BoundInput(ModelInput Input, bool IsString, IReadOnlyList<string> Fields);

/// <summary>A card output checked against the graph: the prediction field it is read into and the values it holds per row.</summary>
public sealed record BoundOutput(ModelOutput Output, string ElementType, int Rank, int Width);

/// <summary>Everything a model card binds in its graph, once <see cref="ModelCardBinding.Check"/> found nothing wrong.</summary>
public sealed record CardBindingPlan(IReadOnlyList<BoundInput> Inputs, IReadOnlyList<BoundOutput> Outputs);

/// <summary>A model card does not describe the graph it ships with; the message names the input, output or field at fault.</summary>
public sealed class ModelCardBindingException : Exception
{
    public ModelCardBindingException()
    {
    }

    public ModelCardBindingException(string message)
        : base(message)
    {
    }

    public ModelCardBindingException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The rules a model card must meet against its graph, declared once: a device checks them when it
/// loads a package, and the control plane checks them before it signs an imported model, so a card
/// the server accepts is one every device can load.
/// </summary>
/// <remarks>
/// Inputs: each card input is a float32 or string graph input shaped [-1, N] that binds N event
/// fields (a string input binds one); every graph input is bound; no event field feeds two inputs.
/// Outputs: <c>score</c> and <c>probability</c> read a float32 [-1] or [-1, 1] tensor;
/// <c>label</c> a bool one, or for a <see cref="ModelTasks.MulticlassClassification"/> card a string
/// or int64 one (an index into <see cref="ModelCard.Classes"/>); <c>probabilities</c> a float32
/// [-1, C] tensor of a multiclass card with C classes.
/// </remarks>
public static class ModelCardBinding
{
    /// <exception cref="ModelCardBindingException">The card does not describe the graph.</exception>
    public static CardBindingPlan Check(
        ModelCard card,
        IReadOnlyDictionary<string, GraphTensor> graphInputs,
        IReadOnlyDictionary<string, GraphTensor> graphOutputs)
    {
        ArgumentNullException.ThrowIfNull(card);
        ArgumentNullException.ThrowIfNull(graphInputs);
        ArgumentNullException.ThrowIfNull(graphOutputs);
        var inputs = new List<BoundInput>(card.Inputs.Count);
        var fieldOwners = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var input in card.Inputs)
        {
            if (inputs.Exists(bound => bound.Input.Name == input.Name))
            {
                throw new ModelCardBindingException($"card input '{input.Name}' appears more than once");
            }

            if (!graphInputs.TryGetValue(input.Name, out var node))
            {
                throw new ModelCardBindingException(
                    $"card input '{input.Name}' is not an input of the graph (graph inputs: {string.Join(", ", graphInputs.Keys)})");
            }

            var fields = CheckInput(input, node);
            foreach (var field in fields)
            {
                if (!fieldOwners.TryAdd(field, input.Name))
                {
                    throw new ModelCardBindingException(
                        $"event field '{field}' is bound to both input '{fieldOwners[field]}' and input '{input.Name}'");
                }
            }

            inputs.Add(new BoundInput(input, node.ElementType == TensorElementTypes.String, fields));
        }

        foreach (var graphInput in graphInputs.Keys)
        {
            if (!inputs.Exists(bound => bound.Input.Name == graphInput))
            {
                throw new ModelCardBindingException($"graph input '{graphInput}' is not bound by the model card");
            }
        }

        return new CardBindingPlan(inputs, CheckOutputs(card, graphOutputs));
    }

    /// <summary>The problem with a multiclass card's <see cref="ModelCard.Classes"/>; null when they are usable (or the card is not multiclass).</summary>
    public static string? DescribeClasses(ModelCard card)
    {
        ArgumentNullException.ThrowIfNull(card);
        if (!string.Equals(card.Task, ModelTasks.MulticlassClassification, StringComparison.Ordinal))
        {
            return null;
        }

        if (card.Classes is not { Count: >= 2 } classes)
        {
            return $"a {ModelTasks.MulticlassClassification} card lists its classes in 'classes' (at least two); this one lists {card.Classes?.Count ?? 0}";
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in classes)
        {
            if (string.IsNullOrEmpty(name))
            {
                return "'classes' holds an empty class name";
            }

            if (!seen.Add(name))
            {
                return $"'classes' lists class '{name}' more than once";
            }
        }

        return null;
    }

    private static string[] CheckInput(ModelInput input, GraphTensor node)
    {
        if (!node.IsTensor)
        {
            throw new ModelCardBindingException($"input '{input.Name}' is a {node.Kind} in the graph; only tensors can be bound to event fields");
        }

        if (!string.Equals(node.ElementType, input.ElementType, StringComparison.Ordinal))
        {
            throw new ModelCardBindingException($"input '{input.Name}' is {node.ElementType} in the graph but {input.ElementType} in the card");
        }

        if (node.ElementType is not (TensorElementTypes.Float32 or TensorElementTypes.String))
        {
            throw new ModelCardBindingException($"input '{input.Name}' is {node.ElementType}; only float32 and string inputs can be bound to event fields");
        }

        if (!input.Shape.SequenceEqual(node.Shape))
        {
            throw new ModelCardBindingException(
                $"input '{input.Name}' has shape {FormatShape(input.Shape)} in the card but {FormatShape(node.Shape)} in the graph");
        }

        if (input.Shape.Count != 2 || input.Shape[0] != -1 || input.Shape[1] < 1)
        {
            throw new ModelCardBindingException(
                $"input '{input.Name}' has shape {FormatShape(input.Shape)}; event fields bind only to [-1, N] inputs (a batch of N features)");
        }

        var fields = (input.Field ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length == 0)
        {
            throw new ModelCardBindingException($"input '{input.Name}' binds no event field");
        }

        if (node.ElementType == TensorElementTypes.String && fields.Length != 1)
        {
            throw new ModelCardBindingException($"string input '{input.Name}' binds {fields.Length} event fields ('{input.Field}'); a string input takes one field, shaped [-1, 1]");
        }

        if (fields.Length != input.Shape[1])
        {
            throw new ModelCardBindingException(
                $"input '{input.Name}' has shape {FormatShape(input.Shape)} but binds {fields.Length} event field(s) ('{input.Field}')");
        }

        return fields;
    }

    private static BoundOutput[] CheckOutputs(ModelCard card, IReadOnlyDictionary<string, GraphTensor> graphOutputs)
    {
        var multiclass = string.Equals(card.Task, ModelTasks.MulticlassClassification, StringComparison.Ordinal);
        if (DescribeClasses(card) is { } classProblem)
        {
            throw new ModelCardBindingException(classProblem);
        }

        var outputs = new List<BoundOutput>(card.Outputs.Count);
        foreach (var output in card.Outputs)
        {
            if (!graphOutputs.TryGetValue(output.Name, out var node))
            {
                throw new ModelCardBindingException(
                    $"card output '{output.Name}' is not an output of the graph (graph outputs: {string.Join(", ", graphOutputs.Keys)})");
            }

            if (!node.IsTensor)
            {
                throw new ModelCardBindingException($"output '{output.Name}' is a {node.Kind} in the graph; only tensors can be read as predictions");
            }

            if (!string.Equals(node.ElementType, output.ElementType, StringComparison.Ordinal))
            {
                throw new ModelCardBindingException($"output '{output.Name}' is {node.ElementType} in the graph but {output.ElementType} in the card");
            }

            string[] allowed = output.Field switch
            {
                PredictionFields.Label when multiclass => [TensorElementTypes.String, TensorElementTypes.Int64],
                PredictionFields.Label => [TensorElementTypes.Bool],
                PredictionFields.Score or PredictionFields.Probability => [TensorElementTypes.Float32],
                PredictionFields.Probabilities when multiclass => [TensorElementTypes.Float32],
                PredictionFields.Probabilities => throw new ModelCardBindingException(
                    $"output '{output.Name}' is bound to '{PredictionFields.Probabilities}', which only a {ModelTasks.MulticlassClassification} card has; this card's task is '{card.Task}'"),
                _ => throw new ModelCardBindingException(
                    $"output '{output.Name}' is bound to unknown prediction field '{output.Field}' (known: {PredictionFields.Label}, {PredictionFields.Score}, {PredictionFields.Probability}, {PredictionFields.Probabilities})"),
            };
            if (!allowed.Contains(node.ElementType, StringComparer.Ordinal))
            {
                throw new ModelCardBindingException(
                    $"output '{output.Name}' is {node.ElementType} but prediction field '{output.Field}' needs {string.Join(" or ", allowed)}");
            }

            if (!output.Shape.SequenceEqual(node.Shape))
            {
                throw new ModelCardBindingException(
                    $"output '{output.Name}' has shape {FormatShape(output.Shape)} in the card but {FormatShape(node.Shape)} in the graph");
            }

            var width = 1;
            if (output.Field == PredictionFields.Probabilities)
            {
                var classes = card.Classes!.Count;
                if (node.Shape.Count != 2 || node.Shape[0] != -1 || node.Shape[1] != classes)
                {
                    throw new ModelCardBindingException(
                        $"output '{output.Name}' has shape {FormatShape(node.Shape)}; '{PredictionFields.Probabilities}' needs [-1, {classes}], one column per class of the card's {classes} classes");
                }

                width = classes;
            }
            else if (node.Shape.Count == 0 || node.Shape[0] != -1 || node.Shape.Skip(1).Any(dimension => dimension != 1))
            {
                throw new ModelCardBindingException(
                    $"output '{output.Name}' has shape {FormatShape(node.Shape)}; a prediction field needs one value per row ([-1] or [-1, 1])");
            }

            if (outputs.Exists(bound => bound.Output.Field == output.Field))
            {
                throw new ModelCardBindingException($"prediction field '{output.Field}' is bound to more than one output");
            }

            outputs.Add(new BoundOutput(output, node.ElementType, node.Shape.Count, width));
        }

        if (outputs.Count == 0)
        {
            throw new ModelCardBindingException("the card binds no output to a prediction field");
        }

        if (multiclass && !outputs.Exists(bound => bound.Output.Field is PredictionFields.Label or PredictionFields.Probabilities))
        {
            throw new ModelCardBindingException(
                $"a {ModelTasks.MulticlassClassification} card binds '{PredictionFields.Label}' or '{PredictionFields.Probabilities}' (or both); this one binds neither");
        }

        return [.. outputs];
    }

    private static string FormatShape<T>(IEnumerable<T> shape) => $"[{string.Join(", ", shape)}]";
}
