using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Host.Hosting;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.Mqtt;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Host.Broker;

/// <summary>
/// The control plane as a privileged MQTT client: receives what devices publish and queues it for
/// the router, which acknowledges each message once it is stored, and publishes desired states
/// retained. On every (re)connect it republishes every stored desired state, so a broker that lost
/// its retained messages is brought back in line; with several replicas each does so when it
/// connects, which is harmless: the broker keeps the last of the same retained messages. With an external broker the replicas subscribe through one MQTT 5 shared
/// subscription (<see cref="BrokerOptions.ShareGroup"/>), so the broker hands each device message
/// to one of them; the embedded broker serves one process, which subscribes plainly.
/// </summary>
public sealed partial class MqttDeviceLink : IDeviceLink, IHostedService, IAsyncDisposable
{
    private readonly MqttConnection _connection;
    private readonly IDeviceStore _devices;
    private readonly ILogger<MqttDeviceLink> _logger;

    private readonly bool _external;

    public MqttDeviceLink(
        ServerBootstrap bootstrap,
        BrokerCredentials credentials,
        IOptions<BrokerOptions> options,
        IDeviceStore devices,
        DeviceMessageRouter router,
        ILoggerFactory loggerFactory)
    {
        _devices = devices;
        _logger = loggerFactory.CreateLogger<MqttDeviceLink>();
        _external = options.Value.IsExternal;
        var (host, port) = _external ? (options.Value.Host, options.Value.Port) : (bootstrap.Options.BindAddress, bootstrap.MqttPort);
        _connection = new MqttConnection(
            new MqttConnectionSettings(host, port, credentials.ControlPlaneClientId)
            {
                ClientCertificate = credentials.ClientCertificate,
                TrustedCa = credentials.CaCertificate,

                // Messages are acknowledged once stored, so the broker may hold back no more
                // unacknowledged ones than the router's queue takes (brokers that honour it).
                ReceiveMaximum = (ushort)Math.Min(router.QueueCapacity, ushort.MaxValue),

                // What a replica received but had not acknowledged when it went away stays in its
                // session, and is delivered again when it reconnects under the same Replica:Id.
                CleanStart = false,
                SessionExpiry = options.Value.SessionExpiry,
            },
            loggerFactory.CreateLogger<MqttConnection>());
        foreach (var filter in options.Value.ControlPlaneFilters())
        {
            _connection.Subscribe(filter);
        }

        _connection.OnDelivery((delivery, ct) => router.EnqueueAsync(
            new DeviceMessage(delivery.Message.Topic, delivery.Message.Payload, delivery.AcknowledgeAsync),
            ct).AsTask());
        _connection.OnConnected(RepublishDesiredAsync);
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _connection.Start();
        if (_external)
        {
            // An external broker may come up after the control plane (it may even be configured
            // from files this server writes on start); the API serves meanwhile and the link
            // keeps retrying, republishing every desired state once it connects.
            LogExternalBroker();
            return;
        }

        await _connection.WaitConnectedAsync(cancellationToken).ConfigureAwait(false);
    }

    public bool IsConnected => _connection.IsConnected;

    /// <summary>Completes once the link is connected to the broker.</summary>
    public Task WaitConnectedAsync(CancellationToken cancellationToken) => _connection.WaitConnectedAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    public Task PublishDesiredAsync(string deviceId, DesiredState desired, CancellationToken cancellationToken) =>
        _connection.PublishAsync(
            Topics.Desired(deviceId),
            JsonSerializer.SerializeToUtf8Bytes(desired, ContractsJsonContext.Default.DesiredState),
            cancellationToken,
            retain: true,
            contentType: MediaTypes.Json);

    private async Task RepublishDesiredAsync(CancellationToken cancellationToken)
    {
        var count = 0;
        foreach (var device in await _devices.ListDevicesAsync(cancellationToken).ConfigureAwait(false))
        {
            if (device.Desired is { } desired)
            {
                await PublishDesiredAsync(device.Id, desired, cancellationToken).ConfigureAwait(false);
                count++;
            }
        }

        LogRepublished(count);
    }

    [LoggerMessage(EventId = 611, Level = LogLevel.Information, Message = "Connecting to the external MQTT broker in the background")]
    private partial void LogExternalBroker();

    [LoggerMessage(EventId = 610, Level = LogLevel.Information, Message = "Device link connected; republished {Count} desired state(s)")]
    private partial void LogRepublished(int count);
}
