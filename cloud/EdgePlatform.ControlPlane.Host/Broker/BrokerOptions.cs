using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.ControlPlane.Host.Broker;

/// <summary>Which MQTT broker devices use, and how the control plane reaches it.</summary>
public sealed class BrokerOptions
{
    public const string Section = "Broker";

    /// <summary>
    /// <c>embedded</c> (default): the control plane runs the broker on <c>Server:MqttPort</c>.
    /// <c>external</c>: any MQTT 5 broker with mTLS against the device CA (e.g. mosquitto with the
    /// configuration written to <see cref="MosquittoConfigDirectory"/>) at <see cref="Host"/>:<see cref="Port"/>.
    /// </summary>
    [RegularExpression("^(embedded|external)$", ErrorMessage = "Broker:Mode must be 'embedded' or 'external'")]
    public string Mode { get; set; } = "embedded";

    /// <summary>External broker host, as devices and the control plane reach it. Default 127.0.0.1.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>External broker TLS port. Default 8883.</summary>
    [Range(1, 65535)]
    public int Port { get; set; } = 8883;

    /// <summary>
    /// Host names and addresses the broker's server certificate names besides the bind address
    /// and <c>localhost</c>, e.g. the name devices use on the site network.
    /// </summary>
    public List<string> HostNames { get; set; } = [];

    /// <summary>
    /// When set, the control plane writes a mosquitto configuration there on start: a TLS listener
    /// requiring a device certificate (<c>require_certificate</c>, <c>use_identity_as_username</c>),
    /// the device CA, a server certificate, the ACL and the revocation list. Default: unset.
    /// </summary>
    public string? MosquittoConfigDirectory { get; set; }

    public bool IsExternal => string.Equals(Mode, "external", StringComparison.Ordinal);
}
