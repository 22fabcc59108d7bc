using EdgePlatform.Contracts;

namespace EdgePlatform.Oci;

/// <summary>Media types and fixed content of the OCI specs that <see cref="EdgePlatform.Contracts.MediaTypes"/> does not hold.</summary>
public static class OciMediaTypes
{
    /// <summary>The <c>artifactType</c> of the manifest that carries a model package's CMS signature.</summary>
    public const string SignatureArtifact = MediaTypes.SignatureArtifact;

    public const string OciImageIndex = MediaTypes.OciImageIndex;

    public const string OctetStream = "application/octet-stream";

    /// <summary>Digest of <see cref="EmptyJson"/>, the OCI "empty descriptor" content <c>{}</c>.</summary>
    public const string EmptyJsonDigest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

    /// <summary>The two bytes <c>{}</c>: the config of an artifact that needs none.</summary>
    public static ReadOnlyMemory<byte> EmptyJson { get; } = "{}"u8.ToArray();
}
