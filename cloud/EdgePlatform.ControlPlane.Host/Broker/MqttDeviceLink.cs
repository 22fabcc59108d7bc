using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Host.Hosting;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.Mqtt;

namespace EdgePlatform.ControlPlane.Host.Broker;

/// <summary>
/// The control plane as a privileged MQTT client: receives what devices publish and routes it,
/// and publishes desired states retained. On every (re)connect it republishes every stored
/// desired state, so a broker that lost its retained messages is brought back in line.
/// </summary>
public sealed partial class MqttDeviceLink : IDeviceLink, IHostedService, IAsyncDisposable
{
    /// <summary>The control plane's MQTT client id, and so its broker session's id.</summary>
    public const string ClientId = "edgeplatform-control-plane";

    private readonly MqttConnection _connection;
    private readonly IDeviceStore _devices;
    private readonly ILogger<MqttDeviceLink> _logger;

    public MqttDeviceLink(
        ServerBootstrap bootstrap,
        BrokerCredentials credentials,
        IDeviceStore devices,
        DeviceMessageRouter router,
        ILoggerFactory loggerFactory)
    {
        _devices = devices;
        _logger = loggerFactory.CreateLogger<MqttDeviceLink>();
        _connection = new MqttConnection(
            new MqttConnectionSettings(bootstrap.Options.BindAddress, bootstrap.MqttPort, ClientId)
            {
                UserName = BrokerCredentials.ControlPlaneUserName,
                Password = credentials.Password,
            },
            loggerFactory.CreateLogger<MqttConnection>());
        _connection.Subscribe(Topics.AllReported);
        _connection.Subscribe(Topics.AllStatus);
        _connection.Subscribe(Topics.AllTelemetry);
        _connection.OnMessage((message, ct) => router.RouteAsync(message.Topic, message.Payload, ct));
        _connection.OnConnected(RepublishDesiredAsync);
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _connection.Start();
        await _connection.WaitConnectedAsync(cancellationToken).ConfigureAwait(false);
    }

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

    [LoggerMessage(EventId = 610, Level = LogLevel.Information, Message = "Device link connected; republished {Count} desired state(s)")]
    private partial void LogRepublished(int count);
}
