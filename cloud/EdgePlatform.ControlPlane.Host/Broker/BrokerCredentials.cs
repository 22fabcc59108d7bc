using System.Security.Cryptography;

namespace EdgePlatform.ControlPlane.Host.Broker;

/// <summary>
/// The control plane's own credential on the embedded broker: a fresh random password per
/// process, never written anywhere, so only this process holds the privileged identity.
/// </summary>
public sealed class BrokerCredentials
{
    public const string ControlPlaneUserName = "$control-plane";

    public string Password { get; } = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
}
