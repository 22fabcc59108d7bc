namespace EdgePlatform.Security;

/// <summary>Names of the checks a model package goes through on the device (metadata checks are in <see cref="Tuf.TufChecks"/>).</summary>
public static class VerificationChecks
{
    public const string ManifestDigest = "manifest-digest";
    public const string ManifestSize = "manifest-size";
    public const string Signature = "signature";
    public const string ManifestFormat = "manifest-format";
    public const string LayerDigest = "layer-digest";
    public const string LayerSize = "layer-size";

    /// <summary>The release has no image for the device's platform, or the image manifest is not the one its signed targets entry names.</summary>
    public const string ImageManifest = "image-manifest";

    /// <summary>A blob of the image differs from the digest its manifest lists.</summary>
    public const string ImageBlobDigest = "image-blob-digest";

    /// <summary>The image the container engine loaded is not the one the signed targets entry names (its config digest).</summary>
    public const string ImageId = "image-id";

    /// <summary>What a failed check means, in words; metadata checks are explained by <see cref="Tuf.TufChecks"/>.</summary>
    public static string Explain(string check) => check switch
    {
        ManifestDigest => "the manifest is not the one the deployment pinned",
        ManifestSize => "the manifest size differs from the one the deployment pinned",
        Signature => "the manifest is not signed by enough trusted targets keys",
        ManifestFormat => "the manifest is not a model package, or names another release",
        LayerDigest => "a blob's content differs from the digest the signed manifest lists (tampered or mixed releases)",
        LayerSize => "a blob is longer or shorter than the size the signed manifest lists",
        ImageManifest => "the release's container image for this platform is missing, or its manifest is not the one the signed targets entry names",
        ImageBlobDigest => "a blob of the container image differs from the digest its manifest lists",
        ImageId => "the image the container engine loaded is not the one the signed targets entry names",
        _ => Tuf.TufChecks.Explain(check),
    };
}
