using System.Text.Json.Serialization;
using EdgePlatform.Contracts;

namespace EdgePlatform.Oci.Images;

/// <summary>
/// The config blob of a container image (OCI image spec, with Docker's <c>Healthcheck</c>): the
/// subset a scorer image sets. Property names are the spec's, which mix cases.
/// </summary>
public sealed record OciImageConfig(
    [property: JsonPropertyName("architecture")] string Architecture,
    [property: JsonPropertyName("os")] string Os,
    [property: JsonPropertyName("config")] OciContainerConfig Config,
    [property: JsonPropertyName("rootfs")] OciRootFs RootFs)
{
    /// <summary>The JSON bytes of this config: its digest is the image id.</summary>
    public byte[] ToJson() => System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(this, OciJsonContext.Default.OciImageConfig);

    /// <summary>The <see cref="OciPlatform"/> this config runs on.</summary>
    [JsonIgnore]
    public OciPlatform Platform => new(Architecture, Os);
}

/// <summary>How a container of the image runs. Dictionaries are written in the order given: pass sorted ones for stable digests.</summary>
public sealed record OciContainerConfig(
    [property: JsonPropertyName("User")] string? User,
    [property: JsonPropertyName("Env")] IReadOnlyList<string>? Env,
    [property: JsonPropertyName("Entrypoint")] IReadOnlyList<string>? Entrypoint,
    [property: JsonPropertyName("Cmd")] IReadOnlyList<string>? Cmd,
    [property: JsonPropertyName("WorkingDir")] string? WorkingDir,
    [property: JsonPropertyName("ExposedPorts")] IReadOnlyDictionary<string, OciEmptyObject>? ExposedPorts,
    [property: JsonPropertyName("Labels")] IReadOnlyDictionary<string, string>? Labels,
    [property: JsonPropertyName("Healthcheck")] OciHealthcheck? Healthcheck);

/// <summary>Docker's health check of an image; durations in nanoseconds, 0 for Docker's default.</summary>
public sealed record OciHealthcheck(
    [property: JsonPropertyName("Test")] IReadOnlyList<string> Test,
    [property: JsonPropertyName("Interval")] long Interval = 0,
    [property: JsonPropertyName("Timeout")] long Timeout = 0,
    [property: JsonPropertyName("StartPeriod")] long StartPeriod = 0,
    [property: JsonPropertyName("Retries")] int Retries = 0);

/// <summary>The uncompressed digests of the image's layers, bottom first.</summary>
public sealed record OciRootFs(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("diff_ids")] IReadOnlyList<string> DiffIds)
{
    public const string LayersType = "layers";
}

/// <summary>The <c>{}</c> value of a set written as a JSON object (<c>ExposedPorts</c>).</summary>
public sealed record OciEmptyObject;

/// <summary>An image's platform, as an index entry and a config name it.</summary>
public sealed record OciPlatform(
    [property: JsonPropertyName("architecture")] string Architecture,
    [property: JsonPropertyName("os")] string Os)
{
    public static OciPlatform LinuxAmd64 { get; } = new("amd64", "linux");

    public static OciPlatform LinuxArm64 { get; } = new("arm64", "linux");

    /// <summary><c>os/architecture</c>, as <c>docker --platform</c> and the signed targets metadata write it.</summary>
    public override string ToString() => $"{Os}/{Architecture}";

    /// <summary>Reads <c>os/architecture</c>; null when it is not of that form.</summary>
    public static OciPlatform? Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var parts = value.Split('/');
        return parts is [{ Length: > 0 } os, { Length: > 0 } architecture] ? new OciPlatform(architecture, os) : null;
    }
}

/// <summary>An image manifest (no <c>artifactType</c>): a config and layers, bottom first.</summary>
public sealed record OciImageManifest(
    int SchemaVersion,
    string MediaType,
    OciDescriptor Config,
    IReadOnlyList<OciDescriptor> Layers,
    IReadOnlyDictionary<string, string>? Annotations = null)
{
    public static OciImageManifest For(OciDescriptor config, IReadOnlyList<OciDescriptor> layers) =>
        new(2, MediaTypes.OciManifest, config, layers);

    public byte[] ToJson() => System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(this, OciJsonContext.Default.OciImageManifest);
}

/// <summary>An image index: a manifest per platform.</summary>
public sealed record OciImageIndex(
    int SchemaVersion,
    string MediaType,
    IReadOnlyList<OciIndexEntry> Manifests,
    IReadOnlyDictionary<string, string>? Annotations = null)
{
    public static OciImageIndex Of(IEnumerable<OciIndexEntry> manifests) => new(2, MediaTypes.OciImageIndex, [.. manifests]);

    public byte[] ToJson() => System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(this, OciJsonContext.Default.OciImageIndex);

    /// <summary>This index with <paramref name="entry"/> in place of any entry of the same platform, entries ordered by platform.</summary>
    public OciImageIndex With(OciIndexEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return this with
        {
            Manifests = [.. Manifests.Where(existing => existing.Platform != entry.Platform).Append(entry).OrderBy(existing => existing.Platform?.ToString(), StringComparer.Ordinal)],
        };
    }
}

/// <summary>A descriptor of a manifest in an index, with the platform it runs on.</summary>
public sealed record OciIndexEntry(
    string MediaType,
    string Digest,
    long Size,
    OciPlatform? Platform,
    IReadOnlyDictionary<string, string>? Annotations = null)
{
    [JsonIgnore]
    public OciDescriptor Descriptor => new(MediaType, Digest, Size);
}

/// <summary>The <c>oci-layout</c> file at the root of an image layout.</summary>
internal sealed record OciLayoutMarker(string ImageLayoutVersion);
