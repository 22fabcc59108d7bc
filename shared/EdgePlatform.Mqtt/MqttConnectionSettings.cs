using System.Security.Cryptography.X509Certificates;
using EdgePlatform.Resilience;

namespace EdgePlatform.Mqtt;

/// <summary>Where and as whom an <see cref="MqttConnection"/> connects.</summary>
public sealed record MqttConnectionSettings(string Host, int Port, string ClientId)
{
    public string? UserName { get; init; }

    public string? Password { get; init; }

    /// <summary>
    /// Connect over TLS presenting this certificate (with its private key). Requires
    /// <see cref="TrustedCa"/>: the broker's certificate must chain to it and name the host.
    /// </summary>
    public X509Certificate2? ClientCertificate { get; init; }

    /// <summary>The only CA the broker's server certificate may chain to (no system roots).</summary>
    public X509Certificate2? TrustedCa { get; init; }

    /// <summary>
    /// False keeps the broker-side session (subscriptions and queued QoS 1 messages) across
    /// reconnects, so nothing published while the client was away is lost.
    /// </summary>
    public bool CleanStart { get; init; }

    /// <summary>How long the broker keeps the session after a disconnect.</summary>
    public TimeSpan SessionExpiry { get; init; } = TimeSpan.FromHours(24);

    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Most unacknowledged QoS 1 messages the broker may send this client at once (MQTT 5 receive
    /// maximum); null leaves the protocol's default of 65,535. A client that acknowledges late sets
    /// it to what it can hold.
    /// </summary>
    public ushort? ReceiveMaximum { get; init; }

    /// <summary>
    /// Pauses between failed connects: from 250 ms, doubling up to 10 s, with jitter so that clients
    /// cut off together (a broker restart) do not all come back at the same instant.
    /// </summary>
    public RetryBackoffOptions Reconnect { get; init; } = new() { FirstDelay = TimeSpan.FromMilliseconds(250), MaxDelay = TimeSpan.FromSeconds(10) };

    public MqttLastWill? LastWill { get; init; }

    /// <summary>Called as each connect attempt begins, before any byte is sent: for counters of how a client paces its retries.</summary>
    public Action? Attempting { get; init; }
}

/// <summary>Message the broker publishes for the client when its connection drops.</summary>
public sealed record MqttLastWill(string Topic, byte[] Payload, bool Retain);

/// <summary>A message received on a subscription.</summary>
public readonly record struct MqttIncoming(string Topic, ReadOnlyMemory<byte> Payload, string? ResponseTopic, byte[]? CorrelationData);
