using System.ComponentModel.DataAnnotations;
using EdgePlatform.Contracts;

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

    /// <summary>
    /// Largest MQTT packet a client may send, in bytes, for the embedded broker and the generated
    /// mosquitto configuration (<c>max_packet_size</c>) alike. The largest legitimate packet is a
    /// device's telemetry batch: at most 1,000 reports (<c>Telemetry:MaxBatchReports</c>, default
    /// 100) of about 0.65 to 1.2 KB each in Arrow, so 1.2 MB at most; the default leaves ten times
    /// that for wide quality records. Default 16 MiB.
    /// </summary>
    [Range(64 * 1024, 256 * 1024 * 1024)]
    public int MaxPacketBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// Messages a session may hold for a client that is away or slow, in both brokers; beyond it
    /// the oldest are dropped. The control plane's own session is the one that fills: with an
    /// external broker, every device's telemetry waits there while the control plane restarts, so
    /// the default keeps 100 reports per device of a 1,000-device fleet (about 17 minutes at the
    /// default 10 s heartbeat). Default 100,000.
    /// </summary>
    [Range(100, 10_000_000)]
    public int MaxQueuedMessages { get; set; } = 100_000;

    /// <summary>
    /// Bytes a session may hold for a client that is away or slow (mosquitto's
    /// <c>max_queued_bytes</c>; the embedded broker bounds messages only, and holds telemetry in no
    /// session). Default 1 GiB.
    /// </summary>
    [Range(1024 * 1024, long.MaxValue)]
    public long MaxQueuedBytes { get; set; } = 1024L * 1024 * 1024;

    /// <summary>
    /// How long an external broker keeps a control-plane replica's session (its subscriptions and
    /// the messages it received but had not acknowledged, or that were queued for it) after the
    /// replica's connection ends. A replica that reconnects with the same <c>Replica:Id</c> within
    /// it gets those messages again; after it they are gone. Default 1 hour.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:10", "7.00:00:00")]
    public TimeSpan SessionExpiry { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// The MQTT 5 shared-subscription group the control-plane replicas form on an external broker
    /// (<c>$share/&lt;group&gt;/devices/+/telemetry/+</c> and the reported and status filters):
    /// the broker hands each device message to one member. Default <c>edgeplatform-control-plane</c>.
    /// </summary>
    [RegularExpression("^[A-Za-z0-9._-]{1,64}$", ErrorMessage = "Broker:ShareGroup must be 1 to 64 letters, digits, '.', '_' or '-'")]
    public string ShareGroup { get; set; } = "edgeplatform-control-plane";

    /// <summary>The filters the control plane subscribes to: shared among replicas on an external broker, plain on the embedded one.</summary>
    public IReadOnlyList<string> ControlPlaneFilters() =>
        [.. new[] { Topics.AllReported, Topics.AllStatus, Topics.AllTelemetry }.Select(filter => IsExternal ? $"$share/{ShareGroup}/{filter}" : filter)];

    public bool IsExternal => string.Equals(Mode, "external", StringComparison.Ordinal);
}
