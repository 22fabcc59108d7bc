using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.Agent.Core;

/// <summary>Who the device is and where it enrolls.</summary>
public sealed class AgentOptions
{
    public const string Section = "Agent";

    /// <summary>Holds the device identity, trust root, installed models and counters. Default: ~/.local/share/edgeplatform/agent.</summary>
    [Required]
    public string DataDirectory { get; set; } = Path.Combine(
        Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "edgeplatform", "agent");

    /// <summary>The device id to enroll as; not needed once the device has enrolled.</summary>
    public string? DeviceId { get; set; }

    /// <summary>Control-plane base URL used for enrollment, e.g. http://127.0.0.1:5080.</summary>
    public string? ControlPlaneUrl { get; set; }

    /// <summary>The group enrollment key, or a file holding it (<see cref="EnrollmentKeyFile"/>).</summary>
    public string? EnrollmentKey { get; set; }

    public string? EnrollmentKeyFile { get; set; }

    /// <summary>
    /// Instead of an enrollment key: a bootstrap certificate (PEM, common name = device id) from a
    /// manufacturer CA the control plane trusts, with its private key in <see cref="BootstrapKeyFile"/>.
    /// </summary>
    public string? BootstrapCertificateFile { get; set; }

    public string? BootstrapKeyFile { get; set; }

    /// <summary>
    /// The directory whose binaries attestation measures as the agent build. Default: the
    /// directory the agent runs from.
    /// </summary>
    public string? MeasuredBuildDirectory { get; set; }

    /// <summary>
    /// The release channel this device runs; it installs only releases the signed targets
    /// approve for it. Default: production.
    /// </summary>
    [Required]
    [RegularExpression("^[a-z0-9][a-z0-9._-]{0,62}$", ErrorMessage = "Agent:Channel must be lowercase letters, digits, '.', '_' or '-'")]
    public string Channel { get; set; } = "production";

    /// <summary>Tags sent at enrollment (key → value).</summary>
    public Dictionary<string, string> Tags { get; set; } = [];
}
