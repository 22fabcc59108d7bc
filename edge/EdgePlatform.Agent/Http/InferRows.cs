using System.Text.Json;
using EdgePlatform.Agent.Inference.Engine;
using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Http;

/// <summary>
/// Turns the inputs of a v2 request into rows of event fields. An input may be named after a
/// model input (a tensor of all the fields that input binds, in the card's order) or after a
/// single event field; either way the first dimension counts the rows.
/// </summary>
internal static class InferRows
{
    public static TensorEventRows? From(InferRequest request, ModelCard card, out string? error)
    {
        var fieldsByInput = card.Inputs.ToDictionary(
            input => input.Name,
            input => input.Field.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
            StringComparer.Ordinal);
        var allFields = fieldsByInput.Values.SelectMany(fields => fields).ToHashSet(StringComparer.Ordinal);
        var columns = new Dictionary<string, float[]>(StringComparer.Ordinal);
        var rows = -1;
        foreach (var input in request.Inputs)
        {
            string[] fields;
            if (fieldsByInput.TryGetValue(input.Name, out var bound))
            {
                fields = bound;
            }
            else if (allFields.Contains(input.Name))
            {
                fields = [input.Name];
            }
            else
            {
                error = $"input '{input.Name}' is neither an input of model '{card.Name}' nor one of its event fields (inputs: {string.Join(", ", fieldsByInput.Keys)})";
                return null;
            }

            if (input.Datatype is not (InferenceProtocol.Float32 or InferenceProtocol.Float64 or InferenceProtocol.Int32 or InferenceProtocol.Int64))
            {
                error = $"input '{input.Name}' has datatype '{input.Datatype}'; expected FP32, FP64, INT32 or INT64";
                return null;
            }

            if (input.Shape is not { Count: > 0 } shape || shape.Any(dimension => dimension < 0))
            {
                error = $"input '{input.Name}' needs a shape whose first dimension counts the rows, with no negative dimension";
                return null;
            }

            var width = 1L;
            for (var i = 1; i < shape.Count; i++)
            {
                width *= shape[i];
            }

            if (width != fields.Length)
            {
                error = $"input '{input.Name}' has shape [{string.Join(", ", shape)}]: {width} value(s) per row, but it binds {fields.Length} field(s) ({string.Join(", ", fields)})";
                return null;
            }

            var values = new List<float>((int)Math.Min(shape[0] * width, 1 << 20));
            if (!Flatten(input.Data, values))
            {
                error = $"input '{input.Name}' holds a value that is not a number";
                return null;
            }

            if (values.Count != shape[0] * width)
            {
                error = $"input '{input.Name}' has shape [{string.Join(", ", shape)}] but holds {values.Count} value(s)";
                return null;
            }

            if (rows >= 0 && rows != shape[0])
            {
                error = $"input '{input.Name}' has {shape[0]} row(s) but an earlier input has {rows}";
                return null;
            }

            rows = (int)shape[0];
            for (var j = 0; j < fields.Length; j++)
            {
                if (columns.ContainsKey(fields[j]))
                {
                    error = $"field '{fields[j]}' is given by more than one input";
                    return null;
                }

                var column = new float[rows];
                for (var row = 0; row < rows; row++)
                {
                    column[row] = values[(row * fields.Length) + j];
                }

                columns[fields[j]] = column;
            }
        }

        if (rows <= 0)
        {
            error = "the request holds no rows";
            return null;
        }

        error = null;
        return new TensorEventRows(columns, rows);
    }

    private static bool Flatten(JsonElement data, List<float> values)
    {
        switch (data.ValueKind)
        {
            case JsonValueKind.Array:
                foreach (var item in data.EnumerateArray())
                {
                    if (!Flatten(item, values))
                    {
                        return false;
                    }
                }

                return true;
            case JsonValueKind.Number when data.TryGetDouble(out var value):
                values.Add((float)value);
                return true;
            default:
                return false;
        }
    }
}
