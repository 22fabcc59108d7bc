using System.Text.Json;

namespace EdgePlatform.Contracts;

/// <summary>An OCI content descriptor.</summary>
public sealed record OciDescriptor(
    string MediaType,
    string Digest,
    long Size,
    IReadOnlyDictionary<string, string>? Annotations = null);

/// <summary>An OCI image manifest (schema 2) used as an artifact manifest.</summary>
public sealed record OciManifest(
    int SchemaVersion,
    string MediaType,
    string? ArtifactType,
    OciDescriptor Config,
    IReadOnlyList<OciDescriptor> Layers,
    IReadOnlyDictionary<string, string>? Annotations = null)
{
    /// <summary>Annotation holding a layer's file name.</summary>
    public const string TitleAnnotation = "org.opencontainers.image.title";

    /// <summary>The tag a manifest's signature is stored under: <c>sha256-&lt;hex&gt;.sig</c>.</summary>
    public static string SignatureTag(string manifestDigest) => manifestDigest.Replace(":", "-", StringComparison.Ordinal) + ".sig";

    public OciDescriptor? FindLayer(string mediaType) =>
        Layers.FirstOrDefault(l => string.Equals(l.MediaType, mediaType, StringComparison.Ordinal));

    /// <summary>
    /// Reads <paramref name="bytes"/> as the manifest of a model package: an
    /// <see cref="MediaTypes.ModelArtifact"/> whose config is a model card and with a
    /// <see cref="MediaTypes.Onnx"/> layer. Null with <paramref name="problem"/> saying what is
    /// wrong when it is not one.
    /// </summary>
    public static OciManifest? ReadModelPackage(ReadOnlySpan<byte> bytes, out string? problem)
    {
        OciManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize(bytes, ContractsJsonContext.Default.OciManifest);
        }
        catch (JsonException ex)
        {
            problem = $"manifest is not valid JSON: {ex.Message}";
            return null;
        }

        if (manifest is null
            || !string.Equals(manifest.ArtifactType, MediaTypes.ModelArtifact, StringComparison.Ordinal)
            || manifest.Config is null
            || !string.Equals(manifest.Config.MediaType, MediaTypes.ModelCard, StringComparison.Ordinal)
            || manifest.Layers is null
            || manifest.FindLayer(MediaTypes.Onnx) is null)
        {
            problem = $"manifest is not a model package ({MediaTypes.ModelArtifact} with a model card and a {MediaTypes.Onnx} layer)";
            return null;
        }

        problem = null;
        return manifest;
    }
}
