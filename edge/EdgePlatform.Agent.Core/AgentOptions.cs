using System.ComponentModel.DataAnnotations;
using EdgePlatform.Resilience;

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

    /// <summary>Pauses between enrollment tries the control plane did not answer: 250 ms doubling to 10 s, with jitter.</summary>
    [ValidBackoff]
    public RetryBackoffOptions EnrollmentRetry { get; set; } = new() { FirstDelay = TimeSpan.FromMilliseconds(250), MaxDelay = TimeSpan.FromSeconds(10) };

    /// <summary>Pauses between failed attestations: 2 s doubling to 2 min, with jitter.</summary>
    [ValidBackoff]
    public RetryBackoffOptions AttestationRetry { get; set; } = new() { FirstDelay = TimeSpan.FromSeconds(2), MaxDelay = TimeSpan.FromMinutes(2) };

    /// <summary>
    /// Pauses before retrying a desired state whose package could not be fetched (a download cut
    /// off, a registry out of reach): 2 s doubling to 5 min, with jitter.
    /// </summary>
    [ValidBackoff]
    public RetryBackoffOptions ReconcileRetry { get; set; } = new() { FirstDelay = TimeSpan.FromSeconds(2), MaxDelay = TimeSpan.FromMinutes(5) };

    /// <summary>Pauses between failed connects to the control plane's MQTT broker: 250 ms doubling to 10 s, with jitter.</summary>
    [ValidBackoff]
    public RetryBackoffOptions ReconnectRetry { get; set; } = new() { FirstDelay = TimeSpan.FromMilliseconds(250), MaxDelay = TimeSpan.FromSeconds(10) };
}
