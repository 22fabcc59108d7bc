using System.Net;
using System.Net.Sockets;

namespace EdgePlatform.Mqtt;

/// <summary>
/// Where a broker embedded in a host listens, from the one address its operator configured. An
/// MQTT server binds IPv4 and IPv6 separately, and one told only an IPv4 address still listens on
/// every IPv6 interface (<c>[::]</c>): a broker configured for 127.0.0.1 was reachable from the
/// plant network through the host's global IPv6 address. Each family gets the configured address
/// or none at all (<see cref="IPAddress.None"/>, which the server takes as "no listener").
/// </summary>
public static class BrokerListenAddresses
{
    public static (IPAddress V4, IPAddress V6) For(IPAddress configured)
    {
        ArgumentNullException.ThrowIfNull(configured);
        return configured.AddressFamily == AddressFamily.InterNetworkV6
            ? (IPAddress.None, configured)
            : (configured, IPAddress.None);
    }
}
