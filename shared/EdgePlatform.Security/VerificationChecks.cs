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

    /// <summary>What a failed check means, in words; metadata checks are explained by <see cref="Tuf.TufChecks"/>.</summary>
    public static string Explain(string check) => check switch
    {
        ManifestDigest => "the manifest is not the one the deployment pinned",
        ManifestSize => "the manifest size differs from the one the deployment pinned",
        Signature => "the manifest is not signed by enough trusted targets keys",
        ManifestFormat => "the manifest is not a model package, or names another release",
        LayerDigest => "a blob's content differs from the digest the signed manifest lists (tampered or mixed releases)",
        LayerSize => "a blob is longer or shorter than the size the signed manifest lists",
        _ => Tuf.TufChecks.Explain(check),
    };
}
