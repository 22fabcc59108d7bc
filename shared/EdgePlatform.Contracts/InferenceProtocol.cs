using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgePlatform.Contracts;

/// <summary>
/// The Open Inference Protocol (KServe v2) over HTTP/JSON, as the agent's local endpoint
/// speaks it: <c>/v2/models/{name}/infer</c>, model metadata and readiness. Names follow the
/// protocol (<c>model_name</c>, <c>datatype</c>), not this project's camelCase.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "Names mirror the protocol's datatypes they stand for.")]
public static class InferenceProtocol
{
    public const string Float32 = "FP32";
    public const string Float64 = "FP64";
    public const string Int32 = "INT32";
    public const string Int64 = "INT64";
    public const string Bool = "BOOL";

    /// <summary>Strings, as a multiclass model's class names are returned.</summary>
    public const string Bytes = "BYTES";

    /// <summary>The <c>platform</c> the agent reports for an ONNX model.</summary>
    public const string OnnxPlatform = "onnxruntime_onnx";
}

/// <summary>One named tensor: shape, element type and its values in row-major order (flat or nested).</summary>
public sealed record InferTensor(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("shape")] IReadOnlyList<long> Shape,
    [property: JsonPropertyName("datatype")] string Datatype,
    [property: JsonPropertyName("data")] JsonElement Data);

/// <summary>Names an output the client wants; all are returned when the request names none.</summary>
public sealed record InferRequestedOutput([property: JsonPropertyName("name")] string Name);

public sealed record InferRequest(
    [property: JsonPropertyName("id")] string? Id,
    [property: JsonPropertyName("inputs")] IReadOnlyList<InferTensor> Inputs,
    [property: JsonPropertyName("outputs")] IReadOnlyList<InferRequestedOutput>? Outputs);

public sealed record InferResponse(
    [property: JsonPropertyName("model_name")] string ModelName,
    [property: JsonPropertyName("model_version")] string ModelVersion,
    [property: JsonPropertyName("id")] string? Id,
    [property: JsonPropertyName("outputs")] IReadOnlyList<InferTensor> Outputs);

public sealed record InferTensorMetadata(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("datatype")] string Datatype,
    [property: JsonPropertyName("shape")] IReadOnlyList<long> Shape);

public sealed record InferModelMetadata(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("versions")] IReadOnlyList<string> Versions,
    [property: JsonPropertyName("platform")] string Platform,
    [property: JsonPropertyName("inputs")] IReadOnlyList<InferTensorMetadata> Inputs,
    [property: JsonPropertyName("outputs")] IReadOnlyList<InferTensorMetadata> Outputs);

public sealed record InferServerMetadata(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("extensions")] IReadOnlyList<string> Extensions);

/// <summary>The protocol's error body: one message that says what was wrong.</summary>
public sealed record InferError([property: JsonPropertyName("error")] string Error);

/// <summary>Source-generated serialization of the inference protocol's records.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(InferRequest))]
[JsonSerializable(typeof(InferResponse))]
[JsonSerializable(typeof(InferModelMetadata))]
[JsonSerializable(typeof(InferServerMetadata))]
[JsonSerializable(typeof(InferError))]
[JsonSerializable(typeof(float[]))]
[JsonSerializable(typeof(bool[]))]
[JsonSerializable(typeof(string[]))]
public sealed partial class InferenceProtocolJsonContext : JsonSerializerContext;
