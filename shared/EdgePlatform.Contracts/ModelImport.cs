using System.Text.Json;

namespace EdgePlatform.Contracts;

/// <summary>
/// A model trained elsewhere, sent to <c>POST /api/v1/models/{name}/import</c>: its ONNX graph, the
/// card its author wrote, and sample rows with the outputs the graph should give them. The server
/// checks all three with ONNX Runtime before it signs anything.
/// </summary>
public sealed record ModelImportRequest(byte[]? Onnx, ModelImportCard? Card, ModelImportSample? Sample);

/// <summary>
/// The part of a model card its author writes: the server adds the name, version, creation time and
/// the sample check (<see cref="ModelCard.Parity"/>). <see cref="Lineage"/> says where the model came
/// from; what it leaves out is recorded as unknown.
/// </summary>
public sealed record ModelImportCard(
    string? Task,
    IReadOnlyList<ModelInput>? Inputs,
    IReadOnlyList<ModelOutput>? Outputs,
    IReadOnlyList<string>? Classes = null,
    IReadOnlyDictionary<string, double>? Metrics = null,
    ModelImportLineage? Lineage = null,
    IReadOnlyList<FeatureBaseline>? Baseline = null);

/// <summary>Where an imported model came from: the framework or tool that made it, the data it learned from, and its settings.</summary>
public sealed record ModelImportLineage(
    string? Framework = null,
    string? DatasetName = null,
    string? DatasetDigest = null,
    int? DatasetRows = null,
    string? Algorithm = null,
    IReadOnlyDictionary<string, string>? Parameters = null,
    string? CodeVersion = null);

/// <summary>Rows the server scores to check the graph does what the card says: at least one.</summary>
public sealed record ModelImportSample(IReadOnlyList<ModelImportSampleRow>? Rows);

/// <summary>
/// One sample row: <see cref="Event"/> is a device event (the card's input fields, as a device would
/// receive them), <see cref="Expected"/> the prediction fields it should give, by name:
/// <c>label</c> (true/false, or a class name), <c>score</c>, <c>probability</c>, <c>probabilities</c> (one per class).
/// </summary>
public sealed record ModelImportSampleRow(JsonElement Event, IReadOnlyDictionary<string, JsonElement>? Expected);
