using EdgePlatform.Security.Pki;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Core.Identity;

/// <summary>
/// How the agent knows it talks to its own control plane: the pin given at install
/// (<see cref="AgentOptions.ControlPlaneCaFile"/> or <see cref="AgentOptions.ControlPlaneFingerprint"/>),
/// or the system's trusted roots without one. Every HTTP client of the agent is built on
/// <see cref="CreateHandler"/>, so enrollment, attestation, trust metadata and model pulls are
/// all held to it.
/// </summary>
public sealed class ControlPlaneTrust(IOptions<AgentOptions> options)
{
    private readonly Lazy<ServerCertificatePin?> _pin = new(() => AgentOptions.Pin(options.Value));

    public Uri? ControlPlane => Uri.TryCreate(options.Value.ControlPlaneUrl, UriKind.Absolute, out var url) ? url : null;

    public ServerCertificatePin? Pin => _pin.Value;

    public HttpMessageHandler CreateHandler() => ServerCertificatePin.Handler(ControlPlane, Pin);

    /// <summary>Why the control plane's certificate was refused, for the log; a generic line when no pin judged it.</summary>
    public string DescribeRefusal() =>
        Pin?.LastRefusal ?? "its certificate is not trusted by this machine's roots; give the agent Agent:ControlPlaneCaFile or Agent:ControlPlaneFingerprint";
}
