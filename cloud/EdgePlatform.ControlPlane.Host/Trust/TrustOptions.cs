using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.ControlPlane.Host.Trust;

/// <summary>How releases are approved and how long signed metadata stays valid.</summary>
public sealed class TrustOptions
{
    public const string Section = "Trust";

    /// <summary>Channels a newly published release is approved for. Default: production.</summary>
    [MinLength(1)]
    public List<string> DefaultChannels { get; set; } = ["production"];

    /// <summary>Lifetime of the freshness (timestamp) metadata; devices refuse it once expired. Default 1 day.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "30.00:00:00")]
    public TimeSpan TimestampLifetime { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Lifetime of the targets metadata. Default 30 days.</summary>
    [Range(typeof(TimeSpan), "00:10:00", "365.00:00:00")]
    public TimeSpan TargetsLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>Lifetime of root metadata the server creates on first start. Default 365 days.</summary>
    [Range(typeof(TimeSpan), "1.00:00:00", "3650.00:00:00")]
    public TimeSpan RootLifetime { get; set; } = TimeSpan.FromDays(365);
}
