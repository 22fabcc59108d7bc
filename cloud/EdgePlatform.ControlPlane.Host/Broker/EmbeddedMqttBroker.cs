using System.Buffers;
using System.Collections;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Host.Hosting;
using EdgePlatform.Mqtt;
using EdgePlatform.Security.Pki;
using MQTTnet.Protocol;
using MQTTnet.Server;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Host.Broker;

/// <summary>
/// The embedded MQTT 5 broker: TLS only, with a client certificate from the device CA required.
/// The device id is the certificate's subject, never the client's claim (the client id must
/// equal it), and a device may touch only its own topics: publish its reported twin, telemetry
/// and status, subscribe under <c>devices/{id}/</c>. The control plane connects as a privileged
/// client with its own certificate, as it would to any external broker, for twins and status.
/// Telemetry, the bulk of the traffic, goes from the broker straight to the
/// <see cref="DeviceMessageRouter"/>, and the device gets its acknowledgement only once the
/// report is stored: this broker keeps nothing on disk, so an acknowledgement it gave any
/// earlier would die with the process.
/// </summary>
public sealed partial class EmbeddedMqttBroker(
    ServerBootstrap bootstrap,
    BrokerCredentials credentials,
    EnrollmentService enrollment,
    TimeProvider timeProvider,
    IServiceProvider services,
    IOptions<BrokerOptions> brokerOptions,
    LimitMetrics limits,
    ILogger<EmbeddedMqttBroker> logger) : IHostedService, IDeviceSessions, IDisposable
{
    private const string PrivilegedItem = "edgeplatform.control-plane";
    private readonly CertificateAuthority _deviceCa = bootstrap.DeviceCa;
    private MqttServer? _server;
    private DeviceMessageRouter? _router;
    private readonly Lock _stopGate = new();
    private volatile bool _stopping;
    private Task? _stop;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Resolved here, not injected: the router reaches the fleet, which closes sessions through this broker.
        _router = services.GetRequiredService<DeviceMessageRouter>();
        var (v4, v6) = BrokerListenAddresses.For(IPAddress.Parse(bootstrap.Options.BindAddress));
        var options = new MqttServerOptionsBuilder()
            .WithoutDefaultEndpoint()
            .WithEncryptedEndpoint()
            .WithEncryptedEndpointBoundIPAddress(v4)
            .WithEncryptedEndpointBoundIPV6Address(v6)
            .WithEncryptedEndpointPort(bootstrap.MqttPort)
            .WithEncryptionCertificate(credentials.ServerCertificate)
            .WithEncryptionSslProtocol(SslProtocols.Tls12 | SslProtocols.Tls13)
            .WithClientCertificate(AcceptClientCertificate, true)
            .WithPersistentSessions()
            .WithMaxPendingMessagesPerClient(brokerOptions.Value.MaxQueuedMessages)
            .Build();
        _server = new MqttServerFactory().CreateMqttServer(options);
        _server.ValidatingConnectionAsync += ValidateConnectionAsync;
        _server.InterceptingPublishAsync += InterceptPublishAsync;
        _server.InterceptingSubscriptionAsync += AuthorizeSubscriptionAsync;
        await _server.StartAsync().ConfigureAwait(false);
        LogStarted(bootstrap.Options.BindAddress, bootstrap.MqttPort);
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        // A host that is stopped and then disposed stops its services twice, possibly at once:
        // every call waits for the one stop.
        lock (_stopGate)
        {
            return _stop ??= StopOnceAsync(cancellationToken);
        }
    }

    private async Task StopOnceAsync(CancellationToken cancellationToken)
    {
        if (_server is { IsStarted: true })
        {
            _stopping = true;
            await DrainControlPlaneSessionAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await _server.StopAsync().ConfigureAwait(false);
            }
            catch (InvalidOperationException ex)
            {
                // MQTTnet's listener cleanup can race a client that is still disconnecting; the
                // broker is going away either way, so a stop that trips over it is not a failure.
                LogStopRace(ex.Message);
            }
        }
    }

    public async Task CloseAsync(string deviceId, CancellationToken cancellationToken)
    {
        if (_server is not { IsStarted: true })
        {
            return;
        }

        var clients = await _server.GetClientsAsync().ConfigureAwait(false);
        if (clients.Any(c => string.Equals(c.Id, deviceId, StringComparison.Ordinal)))
        {
            await _server.DisconnectClientAsync(deviceId, MqttDisconnectReasonCode.NotAuthorized).ConfigureAwait(false);
            LogSessionClosed(deviceId);
        }
    }

    public void Dispose() => _server?.Dispose();

    /// <summary>
    /// TLS-level check: only certificates the device CA issued get a session at all; whether the
    /// device is enrolled, current and not revoked is decided at CONNECT.
    /// </summary>
    private bool AcceptClientCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            LogRefused("(TLS)", "no client certificate");
            return false;
        }

        using var presented = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        if (!_deviceCa.Issued(presented, timeProvider.GetUtcNow(), out var reason))
        {
            LogRefused("(TLS)", $"certificate of '{presented.Subject}' not accepted: {reason}");
            return false;
        }

        return true;
    }

    /// <summary>
    /// Devices already hold acknowledgements for the twins and status messages that wait in the
    /// control plane's session, and this broker keeps sessions in memory: disconnect the devices
    /// so nothing new arrives (turning away any that reconnect meanwhile), then give the control
    /// plane time to take the rest before the broker goes. Telemetry never waits there: it is
    /// stored before it is acknowledged.
    /// </summary>
    private async Task DrainControlPlaneSessionAsync(CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            while (true)
            {
                // Again each round: a device admitted just before the stop began may connect late.
                await DisconnectDevicesAsync().ConfigureAwait(false);
                var session = (await _server!.GetSessionsAsync().ConfigureAwait(false))
                    .FirstOrDefault(s => string.Equals(s.Id, credentials.ControlPlaneClientId, StringComparison.Ordinal));
                if (session is null || session.PendingApplicationMessagesCount == 0)
                {
                    return;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(50), limit.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Out of time: stop anyway, and say so.
        }
        catch (InvalidOperationException ex)
        {
            // Not started or disposed: the server went away meanwhile (its host is being torn
            // down), so there is nothing left to wait for.
            LogStopRace(ex.Message);
            return;
        }

        LogDrainIncomplete();
    }

    private async Task DisconnectDevicesAsync()
    {
        foreach (var client in await _server!.GetClientsAsync().ConfigureAwait(false))
        {
            if (string.Equals(client.Id, credentials.ControlPlaneClientId, StringComparison.Ordinal))
            {
                continue;
            }

            try
            {
                await _server.DisconnectClientAsync(client.Id, MqttDisconnectReasonCode.ServerShuttingDown).ConfigureAwait(false);
            }
            catch (InvalidOperationException)
            {
                // It went by itself between the listing and now.
            }
        }
    }

    private async Task ValidateConnectionAsync(ValidatingConnectionEventArgs args)
    {
        var certificate = args.ClientCertificate;
        if (credentials.IsControlPlane(certificate))
        {
            args.SessionItems[PrivilegedItem] = true;
            return;
        }

        if (_stopping)
        {
            args.ReasonCode = MqttConnectReasonCode.ServerUnavailable;
            return;
        }

        using var presented = certificate is null ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        var (deviceId, reason) = await enrollment.IdentifyAsync(presented, args.CancellationToken).ConfigureAwait(false);
        if (deviceId is null)
        {
            args.ReasonCode = MqttConnectReasonCode.NotAuthorized;
            LogRefused(args.ClientId, reason);
            return;
        }

        // The certificate names the device; a client id that claims another identity is refused.
        if (!string.Equals(args.ClientId, deviceId, StringComparison.Ordinal))
        {
            args.ReasonCode = MqttConnectReasonCode.ClientIdentifierNotValid;
            LogRefused(args.ClientId, $"client id must be the certificate's device id '{deviceId}'");
        }
    }

    private static bool IsPrivileged(IDictionary sessionItems) => sessionItems.Contains(PrivilegedItem);

    private async Task InterceptPublishAsync(InterceptingPublishEventArgs args)
    {
        // Messages injected by the broker itself carry no client id.
        if (string.IsNullOrEmpty(args.ClientId) || IsPrivileged(args.SessionItems))
        {
            return;
        }

        var topic = args.ApplicationMessage.Topic;

        // MQTTnet has read the packet by now and offers no limit of its own; what it can still do
        // is refuse to pass it on and drop the client, so that a device cannot make the control
        // plane store or forward oversized messages, nor keep sending them on one connection.
        var size = args.ApplicationMessage.Payload.Length + System.Text.Encoding.UTF8.GetByteCount(topic);
        if (size > brokerOptions.Value.MaxPacketBytes)
        {
            args.ProcessPublish = false;
            args.CloseConnection = true;
            args.Response.ReasonCode = MqttPubAckReasonCode.ImplementationSpecificError;
            args.Response.ReasonString = $"packet too large: {size} bytes, over the broker's limit of {brokerOptions.Value.MaxPacketBytes}";
            limits.Refused(LimitMetrics.MqttPacketSize);
            LogPacketTooLarge(args.ClientId, topic, size, brokerOptions.Value.MaxPacketBytes);
            return;
        }

        if (!Topics.TryParseDeviceTopic(topic, out var deviceId, out var rest)
            || !string.Equals(deviceId, args.ClientId, StringComparison.Ordinal)
            || !(rest is DeviceMessageRouter.ReportedSuffix or DeviceMessageRouter.StatusSuffix
                || rest.StartsWith(DeviceMessageRouter.TelemetryPrefix, StringComparison.Ordinal)))
        {
            args.ProcessPublish = false;
            args.Response.ReasonCode = MqttPubAckReasonCode.NotAuthorized;
            LogDenied(args.ClientId, "publish", topic);
            return;
        }

        if (rest.StartsWith(DeviceMessageRouter.TelemetryPrefix, StringComparison.Ordinal))
        {
            await StoreTelemetryAsync(args).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Hands a device's telemetry message to the router and holds the device's acknowledgement
    /// until the router stored it (or counted it rejected). The message then goes no further:
    /// the control plane has it. A router that is stopping, or a connection that is gone, gets the
    /// device an error instead, and the device keeps the report and sends it again.
    /// </summary>
    private async Task StoreTelemetryAsync(InterceptingPublishEventArgs args)
    {
        args.ProcessPublish = false;
        var stored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var message = new DeviceMessage(
            args.ApplicationMessage.Topic,
            args.ApplicationMessage.Payload.ToArray(),
            _ =>
            {
                stored.TrySetResult();
                return Task.FromResult(true);
            });
        try
        {
            await _router!.EnqueueAsync(message, args.CancellationToken).ConfigureAwait(false);
            await stored.Task.WaitAsync(args.CancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ChannelClosedException or OperationCanceledException)
        {
            args.Response.ReasonCode = MqttPubAckReasonCode.ImplementationSpecificError;
            args.Response.ReasonString = "the control plane is stopping; the report was not stored, send it again";
        }
    }

    private Task AuthorizeSubscriptionAsync(InterceptingSubscriptionEventArgs args)
    {
        if (IsPrivileged(args.SessionItems))
        {
            return Task.CompletedTask;
        }

        var filter = args.TopicFilter.Topic;
        var ownPrefix = $"{Topics.DeviceRoot}/{args.ClientId}/";
        if (!filter.StartsWith(ownPrefix, StringComparison.Ordinal))
        {
            args.ProcessSubscription = false;
            args.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
            LogDenied(args.ClientId, "subscribe", filter);
        }

        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = 606, Level = LogLevel.Warning, Message = "Device {ClientId} sent {Size} bytes to {Topic}, over the broker's limit of {MaxPacketBytes} (Broker:MaxPacketBytes); the message is dropped and the client disconnected")]
    private partial void LogPacketTooLarge(string clientId, string topic, long size, int maxPacketBytes);

    [LoggerMessage(EventId = 604, Level = LogLevel.Warning, Message = "Closed the session of revoked device {DeviceId}")]
    private partial void LogSessionClosed(string deviceId);

    [LoggerMessage(EventId = 605, Level = LogLevel.Warning, Message = "Broker stopped with messages still queued for the control plane after 10 s")]
    private partial void LogDrainIncomplete();

    [LoggerMessage(EventId = 603, Level = LogLevel.Debug, Message = "Broker stop raced a disconnecting client: {Reason}")]
    private partial void LogStopRace(string reason);

    [LoggerMessage(EventId = 600, Level = LogLevel.Information, Message = "Embedded MQTT broker listening on {Address}:{Port} (TLS, device certificates required)")]
    private partial void LogStarted(string address, int port);

    [LoggerMessage(EventId = 601, Level = LogLevel.Warning, Message = "MQTT connection of client {ClientId} refused: {Reason}")]
    private partial void LogRefused(string clientId, string reason);

    [LoggerMessage(EventId = 602, Level = LogLevel.Warning, Message = "Device {ClientId} denied {Action} on {Topic}")]
    private partial void LogDenied(string clientId, string action, string topic);
}
