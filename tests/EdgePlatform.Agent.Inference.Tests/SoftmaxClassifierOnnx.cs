using System.Text;

namespace EdgePlatform.Agent.Inference.Tests;

/// <summary>
/// A multiclass linear classifier written as an ONNX graph by hand, byte by byte in protobuf, the
/// way a model made outside ML.NET arrives: one float32 [N, F] input <c>features</c>;
/// <c>probabilities = Softmax(features · W + b)</c>, float32 [N, C]; and <c>label = ArgMax</c>,
/// an int64 [N, 1] index into the classes. <see cref="Predict"/> computes the same in double
/// precision, the reference a test compares ONNX Runtime against.
/// </summary>
public sealed class SoftmaxClassifierOnnx
{
    public SoftmaxClassifierOnnx(float[,] weights, float[] bias)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(bias);
        if (weights.GetLength(1) != bias.Length)
        {
            throw new ArgumentException($"weights have {weights.GetLength(1)} classes but bias has {bias.Length}", nameof(bias));
        }

        Weights = weights;
        Bias = bias;
    }

    public float[,] Weights { get; }

    public float[] Bias { get; }

    public int Features => Weights.GetLength(0);

    public int Classes => Bias.Length;

    /// <summary>Softmax of the row's logits, computed in double precision.</summary>
    public double[] Predict(IReadOnlyList<float> row)
    {
        ArgumentNullException.ThrowIfNull(row);
        var logits = new double[Classes];
        for (var c = 0; c < Classes; c++)
        {
            logits[c] = Bias[c];
            for (var f = 0; f < Features; f++)
            {
                logits[c] += (double)row[f] * Weights[f, c];
            }
        }

        var max = logits.Max();
        var exp = logits.Select(logit => Math.Exp(logit - max)).ToArray();
        var sum = exp.Sum();
        return [.. exp.Select(value => value / sum)];
    }

    /// <summary>
    /// The model's ONNX bytes (IR 8, opset 13); <paramref name="labelOutput"/> false leaves the ArgMax
    /// out. With <paramref name="labelNames"/> the label is a string tensor: an ai.onnx.ml
    /// LabelEncoder maps each index to its name, as scikit-learn's converters do.
    /// </summary>
    public byte[] ToOnnx(bool labelOutput = true, IReadOnlyList<string>? labelNames = null)
    {
        var graph = new Proto();
        graph.Message(1, Node("MatMul", ["features", "W"], ["logits_raw"]));
        graph.Message(1, Node("Add", ["logits_raw", "B"], ["logits"]));
        graph.Message(1, Node("Softmax", ["logits"], ["probabilities"], ("axis", 1)));
        if (labelOutput && labelNames is not null)
        {
            graph.Message(1, Node("ArgMax", ["probabilities"], ["label_index"], ("axis", 1), ("keepdims", 1)));
            var encoder = Node("LabelEncoder", ["label_index"], ["label"]);
            encoder.String(7, "ai.onnx.ml");
            encoder.Message(5, Ints("keys_int64s", [.. Enumerable.Range(0, labelNames.Count).Select(i => (long)i)]));
            encoder.Message(5, Strings("values_strings", labelNames));
            encoder.Message(5, StringAttribute("default_string", "?"));
            graph.Message(1, encoder);
        }
        else if (labelOutput)
        {
            graph.Message(1, Node("ArgMax", ["probabilities"], ["label"], ("axis", 1), ("keepdims", 1)));
        }

        graph.String(2, "softmax-classifier");
        var flat = new float[Features * Classes];
        for (var f = 0; f < Features; f++)
        {
            for (var c = 0; c < Classes; c++)
            {
                flat[(f * Classes) + c] = Weights[f, c];
            }
        }

        graph.Message(5, FloatTensor("W", [Features, Classes], flat));
        graph.Message(5, FloatTensor("B", [Classes], Bias));
        graph.Message(11, ValueInfo("features", ElementFloat, [null, Features]));
        graph.Message(12, ValueInfo("probabilities", ElementFloat, [null, Classes]));
        if (labelOutput)
        {
            graph.Message(12, ValueInfo("label", labelNames is null ? ElementInt64 : ElementString, [null, 1]));
        }

        var opset = new Proto();
        opset.String(1, string.Empty);
        opset.Int(2, 13);
        var model = new Proto();
        model.Int(1, 8);
        model.String(2, "hand-written-test-graph");
        model.Message(7, graph);
        model.Message(8, opset);
        if (labelNames is not null)
        {
            var ml = new Proto();
            ml.String(1, "ai.onnx.ml");
            ml.Int(2, 2);
            model.Message(8, ml);
        }

        return model.ToArray();
    }

    private const int ElementFloat = 1;
    private const int ElementInt64 = 7;
    private const int ElementString = 8;

    private static Proto Ints(string name, long[] values)
    {
        var attribute = new Proto();
        attribute.String(1, name);
        foreach (var value in values)
        {
            attribute.Int(8, value);
        }

        attribute.Int(20, 7); // AttributeType.INTS
        return attribute;
    }

    private static Proto Strings(string name, IEnumerable<string> values)
    {
        var attribute = new Proto();
        attribute.String(1, name);
        foreach (var value in values)
        {
            attribute.String(9, value);
        }

        attribute.Int(20, 8); // AttributeType.STRINGS
        return attribute;
    }

    private static Proto StringAttribute(string name, string value)
    {
        var attribute = new Proto();
        attribute.String(1, name);
        attribute.String(4, value);
        attribute.Int(20, 3); // AttributeType.STRING
        return attribute;
    }

    private static Proto Node(string op, string[] inputs, string[] outputs, params (string Name, long Value)[] attributes)
    {
        var node = new Proto();
        foreach (var input in inputs)
        {
            node.String(1, input);
        }

        foreach (var output in outputs)
        {
            node.String(2, output);
        }

        node.String(3, op.ToLowerInvariant());
        node.String(4, op);
        foreach (var (name, value) in attributes)
        {
            var attribute = new Proto();
            attribute.String(1, name);
            attribute.Int(3, value);
            attribute.Int(20, 2); // AttributeType.INT
            node.Message(5, attribute);
        }

        return node;
    }

    private static Proto FloatTensor(string name, long[] dims, float[] values)
    {
        var tensor = new Proto();
        foreach (var dim in dims)
        {
            tensor.Int(1, dim);
        }

        tensor.Int(2, ElementFloat);
        tensor.String(8, name);
        var raw = new byte[values.Length * sizeof(float)];
        Buffer.BlockCopy(values, 0, raw, 0, raw.Length);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("raw ONNX tensor data is little-endian");
        }

        tensor.Bytes(9, raw);
        return tensor;
    }

    /// <summary>A tensor value info; a null dimension is the symbolic batch dimension "N".</summary>
    private static Proto ValueInfo(string name, int elementType, long?[] dims)
    {
        var shape = new Proto();
        foreach (var dim in dims)
        {
            var dimension = new Proto();
            if (dim is { } value)
            {
                dimension.Int(1, value);
            }
            else
            {
                dimension.String(2, "N");
            }

            shape.Message(1, dimension);
        }

        var tensorType = new Proto();
        tensorType.Int(1, elementType);
        tensorType.Message(2, shape);
        var type = new Proto();
        type.Message(1, tensorType);
        var info = new Proto();
        info.String(1, name);
        info.Message(2, type);
        return info;
    }

    /// <summary>The few protobuf wire forms an ONNX model needs: varints and length-delimited fields.</summary>
    private sealed class Proto
    {
        private readonly List<byte> _buffer = [];

        public void Int(int field, long value)
        {
            Varint((ulong)((field << 3) | 0));
            Varint((ulong)value);
        }

        public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public void Message(int field, Proto message) => Bytes(field, message.ToArray());

        public void Bytes(int field, byte[] value)
        {
            Varint((ulong)((field << 3) | 2));
            Varint((ulong)value.Length);
            _buffer.AddRange(value);
        }

        public byte[] ToArray() => _buffer.ToArray();

        private void Varint(ulong value)
        {
            while (value >= 0x80)
            {
                _buffer.Add((byte)(value | 0x80));
                value >>= 7;
            }

            _buffer.Add((byte)value);
        }
    }
}
