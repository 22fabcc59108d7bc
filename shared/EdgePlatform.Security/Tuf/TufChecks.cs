namespace EdgePlatform.Security.Tuf;

/// <summary>Names of the trust checks, as refusals report them.</summary>
public static class TufChecks
{
    public const string RootSignature = "root-signature";
    public const string RootVersion = "root-version";
    public const string RootExpired = "root-expired";
    public const string TimestampSignature = "timestamp-signature";
    public const string TimestampRollback = "timestamp-rollback";
    public const string TimestampExpired = "timestamp-expired";
    public const string TargetsHash = "targets-hash";
    public const string TargetsSignature = "targets-signature";
    public const string TargetsVersion = "targets-version";
    public const string TargetsRollback = "targets-rollback";
    public const string TargetsExpired = "targets-expired";
    public const string TargetUnknown = "target-unknown";
    public const string TargetChannel = "target-channel";
    public const string TargetDigest = "target-digest";
    public const string TargetLength = "target-length";
    public const string Metadata = "metadata-format";

    /// <summary>What each check protects against, in words, for people reading a refusal.</summary>
    public static string Explain(string check) => check switch
    {
        RootSignature => "the root metadata is not signed by enough trusted root keys",
        RootVersion => "the root metadata does not continue the trusted chain of root versions",
        RootExpired => "the newest trusted root metadata has expired",
        TimestampSignature => "the freshness (timestamp) metadata is not signed by enough timestamp keys",
        TimestampRollback => "the freshness metadata is older than metadata already seen (rollback)",
        TimestampExpired => "the freshness metadata has expired (metadata may be frozen)",
        TargetsHash => "the targets metadata is not the one the freshness metadata names (mixed or substituted metadata)",
        TargetsSignature => "the targets metadata is not signed by enough trusted targets keys",
        TargetsVersion => "the targets metadata version differs from the one the freshness metadata names",
        TargetsRollback => "the targets metadata is older than metadata already seen (rollback)",
        TargetsExpired => "the targets metadata has expired",
        TargetUnknown => "the release is not approved in the signed targets metadata",
        TargetChannel => "the release is approved for other channels than this device's",
        TargetDigest => "the package is not the one the signed targets metadata approves (arbitrary package)",
        TargetLength => "the package size differs from the signed targets metadata",
        Metadata => "the metadata is not well-formed",
        _ => check,
    };
}
