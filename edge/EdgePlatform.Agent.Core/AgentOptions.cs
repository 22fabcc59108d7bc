using System.ComponentModel.DataAnnotations;
using EdgePlatform.Resilience;
using EdgePlatform.Security.Pki;

namespace EdgePlatform.Agent.Core;

/// <summary>Who the device is and where it enrolls.</summary>
public sealed class AgentOptions : IValidatableObject
{
    public const string Section = "Agent";

    /// <summary>Holds the device identity, trust root, installed models and counters. Default: ~/.local/share/edgeplatform/agent.</summary>
    [Required]
    public string DataDirectory { get; set; } = Path.Combine(
        Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "edgeplatform", "agent");

    /// <summary>The device id to enroll as; not needed once the device has enrolled.</summary>
    public string? DeviceId { get; set; }

    /// <summary>
    /// Control-plane base URL used for enrollment, e.g. https://cp.example:5080. Plain http:// only
    /// to this machine: the enrollment key would cross the network in clear.
    /// </summary>
    public string? ControlPlaneUrl { get; set; }

    /// <summary>
    /// The CA certificate (PEM) the control plane's TLS certificate must chain to, given at install
    /// so that enrollment never trusts whoever answers first. Or <see cref="ControlPlaneFingerprint"/>.
    /// </summary>
    public string? ControlPlaneCaFile { get; set; }

    /// <summary>
    /// The SHA-256 fingerprint the control plane prints at start (its CA's, or its certificate's):
    /// the same pin as <see cref="ControlPlaneCaFile"/>, in one line.
    /// </summary>
    public string? ControlPlaneFingerprint { get; set; }

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

    /// <summary>The control plane's pin from these settings; null when none is given.</summary>
    public static ServerCertificatePin? Pin(AgentOptions options) => ServerCertificatePin.FromSettings(
        options.ControlPlaneCaFile, options.ControlPlaneFingerprint,
        $"{Section}:{nameof(ControlPlaneCaFile)}", $"{Section}:{nameof(ControlPlaneFingerprint)}");

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        string? problem = null;
        try
        {
            Pin(this);
        }
        catch (ArgumentException ex)
        {
            problem = ex.Message;
        }

        if (problem is not null)
        {
            yield return new ValidationResult(problem, [nameof(ControlPlaneCaFile), nameof(ControlPlaneFingerprint)]);
        }
    }
}
