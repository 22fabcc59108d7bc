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
}
