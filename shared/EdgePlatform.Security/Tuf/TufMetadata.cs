using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgePlatform.Security.Tuf;

/// <summary>Role names. Root names every role's keys and thresholds.</summary>
public static class TufRoles
{
    public const string Root = "root";
    public const string Targets = "targets";
    public const string Timestamp = "timestamp";

    public static IReadOnlyList<string> All { get; } = [Root, Targets, Timestamp];
}

/// <summary>
/// A signed metadata document as stored and sent: the role's document and the signatures over
/// its canonical form (<see cref="CanonicalJson"/>).
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "'signed' is the field name TUF metadata uses.")]
public sealed record SignedEnvelope(JsonElement Signed, IReadOnlyList<EnvelopeSignature> Signatures);

/// <summary>One signature: the key it claims and a base64 CMS detached signature.</summary>
public sealed record EnvelopeSignature(string KeyId, string Sig);

/// <summary>A public key, carried as the self-signed certificate (base64 DER) that CMS verification needs.</summary>
public sealed record TufKey(string KeyType, string Certificate);

public sealed record RoleKeys(IReadOnlyList<string> KeyIds, int Threshold);

/// <summary>Root: the keys and thresholds of every role. Version N+1 must be signed by N's root threshold.</summary>
public sealed record RootMetadata(
    string Type,
    long Version,
    DateTimeOffset Expires,
    IReadOnlyDictionary<string, TufKey> Keys,
    IReadOnlyDictionary<string, RoleKeys> Roles);

/// <summary>Targets: which model packages are approved, on which channels.</summary>
public sealed record TargetsMetadata(
    string Type,
    long Version,
    DateTimeOffset Expires,
    IReadOnlyDictionary<string, TargetEntry> Targets);

/// <summary>
/// One approved release, keyed <c>name:version</c>: the manifest it must be, where it lives,
/// and the channels it may run on.
/// </summary>
public sealed record TargetEntry(string Repository, string Digest, long Length, IReadOnlyList<string> Channels)
{
    /// <summary>
    /// The release packaged as a container image (scorer and model), once it has been
    /// containerized; null for a release that runs in-process only. Left out of the document when
    /// null, so metadata signed before containers existed keeps its canonical form.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ContainerImageTarget? Image { get; init; }
}

/// <summary>
/// A release's container image as its signed targets entry approves it: the image index pushed to
/// <see cref="Repository"/> and, per platform, the image manifest a device of that platform pulls.
/// A device runs an image only when the manifest it pulled has the digest and size given here and
/// the image it loads has <see cref="PlatformImage.ConfigDigest"/> as its id.
/// </summary>
public sealed record ContainerImageTarget(string Repository, string IndexDigest, IReadOnlyList<PlatformImage> Platforms)
{
    /// <summary>The image for <paramref name="platform"/> (<c>linux/amd64</c>, <c>linux/arm64</c>), or null when the release has none.</summary>
    public PlatformImage? For(string platform) =>
        Platforms.FirstOrDefault(image => string.Equals(image.Platform, platform, StringComparison.Ordinal));
}

/// <summary>One platform's image manifest: <see cref="Platform"/> is OCI's <c>os/architecture</c>.</summary>
public sealed record PlatformImage(string Platform, string ManifestDigest, long ManifestSize, string ConfigDigest);

/// <summary>
/// Timestamp: the freshness document. Short-lived and re-signed often, it pins the current
/// targets document by version, length and hash, so stale or mixed metadata is refused.
/// </summary>
public sealed record TimestampMetadata(string Type, long Version, DateTimeOffset Expires, MetaFile Targets);

public sealed record MetaFile(long Version, long Length, string Sha256);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false)]
[JsonSerializable(typeof(SignedEnvelope))]
[JsonSerializable(typeof(RootMetadata))]
[JsonSerializable(typeof(TargetsMetadata))]
[JsonSerializable(typeof(TimestampMetadata))]
public sealed partial class TufJsonContext : JsonSerializerContext;

/// <summary>Metadata that is not well-formed.</summary>
public sealed class TufFormatException : Exception
{
    public TufFormatException()
    {
    }

    public TufFormatException(string message)
        : base(message)
    {
    }

    public TufFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
