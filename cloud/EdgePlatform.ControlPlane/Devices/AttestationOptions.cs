using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.ControlPlane.Devices;

/// <summary>What the attestation verifier accepts and how long what it issues lives.</summary>
public sealed class AttestationOptions
{
    public const string Section = "Attestation";

    /// <summary>Any channel, in <see cref="AllowedAgentBuilds"/>.</summary>
    public const string AnyChannel = "*";

    /// <summary>Lifetime of an attestation token; agents re-attest before it ends. Default 15 minutes.</summary>
    [Range(1, 24 * 60)]
    public int TokenMinutes { get; set; } = 15;

    /// <summary>How long a nonce may be answered; each is good for one attempt. Default 60 s.</summary>
    [Range(5, 600)]
    public int NonceSeconds { get; set; } = 60;

    /// <summary>
    /// Agent build measurements (<c>sha256:…</c>, as <c>edgectl attestation measure</c> prints
    /// them) allowed per device channel; <c>*</c> applies to every channel. Default: none.
    /// </summary>
    public Dictionary<string, List<string>> AllowedAgentBuilds { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// A directory holding a released agent build; its measurement is allowed on every channel.
    /// <c>edgectl server</c> and <c>edgectl demo</c> point it at the agent they start. Default: unset.
    /// </summary>
    public string? TrustedAgentDirectory { get; set; }

    /// <summary>
    /// A directory of releases' <c>agent-builds.json</c> files (deployment/scripts/build-release.sh
    /// writes one per release, with the measurement of each architecture's build): every build a
    /// file lists is allowed on the channels it names, or on every channel. Read at start; a file
    /// that is not one stops the server there. Default: unset.
    /// </summary>
    public string? AllowedAgentBuildsDirectory { get; set; }

    /// <summary>Nonces outstanding at once, over all devices; more requests are refused until some expire. Default 100,000.</summary>
    [Range(1, 10_000_000)]
    public int MaxOutstandingNonces { get; set; } = 100_000;

    /// <summary>
    /// Nonces one device may hold at once; asking for another gives up its oldest. An agent needs
    /// one per attempt, so the default of 4 leaves room for retries. Default 4.
    /// </summary>
    [Range(1, 100)]
    public int MaxNoncesPerDevice { get; set; } = 4;
}
