using System.Text.Json.Serialization;
using EdgePlatform.Contracts;
using EdgePlatform.Oci.Images;

namespace EdgePlatform.Oci;

/// <summary>
/// An OCI image manifest used for an artifact, with the OCI 1.1 <c>subject</c> that links it to
/// the manifest it describes (a signature to what it signs).
/// </summary>
public sealed record OciArtifactManifest(
    int SchemaVersion,
    string MediaType,
    string? ArtifactType,
    OciDescriptor Config,
    IReadOnlyList<OciDescriptor> Layers,
    OciDescriptor? Subject = null,
    IReadOnlyDictionary<string, string>? Annotations = null);

/// <summary>A manifest as the registry served it: the exact bytes, their verified digest, and the media type.</summary>
public sealed record OciManifestContent(byte[] Content, string Digest, string MediaType);

internal sealed record OciErrorDocument(IReadOnlyList<OciErrorDocumentEntry>? Errors);

internal sealed record OciErrorDocumentEntry(string? Code, string? Message);

internal sealed record OciTagList(string? Name, IReadOnlyList<string>? Tags);

[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(OciArtifactManifest))]
[JsonSerializable(typeof(OciErrorDocument))]
[JsonSerializable(typeof(OciTagList))]
[JsonSerializable(typeof(OciImageConfig))]
[JsonSerializable(typeof(OciImageManifest))]
[JsonSerializable(typeof(OciImageIndex))]
[JsonSerializable(typeof(OciLayoutMarker))]
internal sealed partial class OciJsonContext : JsonSerializerContext;
