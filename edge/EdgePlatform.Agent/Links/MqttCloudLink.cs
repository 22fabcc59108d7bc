using System.Text;
using System.Text.Json;
using EdgePlatform.Agent.Core;
using EdgePlatform.Agent.Core.Identity;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Core.Reconciliation;
using EdgePlatform.Contracts;
using EdgePlatform.Mqtt;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Links;

/// <summary>
/// The device link to the control plane's broker over mutual TLS, as the enrolled device: receives the
/// retained desired state, publishes the reported twin, telemetry and an online/offline
/// status (the offline one also as the broker-held last will).
/// </summary>
public sealed partial class MqttCloudLink(
    DeviceIdentityProvider identity,
    DesiredStateInbox inbox,
    IOptions<AgentOptions> options,
    TimeProvider timeProvider,
    ILoggerFactory loggerFactory,
    Func<MqttConnectionSettings, MqttConnectionSettings>? tune = null) : BackgroundService, ICloudLink
{
    private static readonly byte[] Online = Encoding.UTF8.GetBytes(DeviceStatuses.Online);
    private static readonly byte[] Offline = Encoding.UTF8.GetBytes(DeviceStatuses.Offline);

    private readonly ILogger<MqttCloudLink> _logger = loggerFactory.CreateLogger<MqttCloudLink>();
    private MqttConnection? _connection;
    private string _deviceId = string.Empty;

    public bool IsConnected => _connection?.IsConnected == true;

    public event Func<CancellationToken, Task>? Connected;

    public Task PublishReportedAsync(ReportedState reported, CancellationToken cancellationToken) =>
        Connection.PublishAsync(
            Topics.Reported(_deviceId),
            JsonSerializer.SerializeToUtf8Bytes(reported, ContractsJsonContext.Default.ReportedState),
            cancellationToken,
            contentType: MediaTypes.Json);

    public Task PublishTelemetryAsync(string kind, ReadOnlyMemory<byte> arrowStream, CancellationToken cancellationToken) =>
        Connection.PublishAsync(Topics.Telemetry(_deviceId, kind), arrowStream, cancellationToken, contentType: MediaTypes.ArrowStream, requireSubscriber: true);

    private MqttConnection Connection => _connection ?? throw new MqttPublishException("the cloud link has not started");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var device = await identity.GetAsync(stoppingToken).ConfigureAwait(false);
        _deviceId = device.DeviceId;
        // mTLS: the broker takes the device id from this certificate; the client id must match it.
        var settings = new MqttConnectionSettings(device.MqttHost, device.MqttPort, device.DeviceId)
        {
            ClientCertificate = await identity.GetClientCertificateAsync(stoppingToken).ConfigureAwait(false),
            TrustedCa = await identity.GetCaCertificateAsync(stoppingToken).ConfigureAwait(false),
            LastWill = new MqttLastWill(Topics.Status(device.DeviceId), Offline, Retain: true),
            Reconnect = options.Value.ReconnectRetry,
        };

        // A host of many links (the fleet simulator) adjusts the session to its scale.
        var connection = new MqttConnection(tune?.Invoke(settings) ?? settings, loggerFactory.CreateLogger<MqttConnection>(), timeProvider);
        connection.Subscribe(Topics.Desired(device.DeviceId));
        connection.OnMessage(OnDesiredAsync);
        connection.OnConnected(async ct =>
        {
            await connection.PublishAsync(Topics.Status(device.DeviceId), Online, ct, retain: true).ConfigureAwait(false);
            if (Connected is { } connected)
            {
                // Handlers run after this callback returns, once the connection counts as up.
                _ = Task.Run(() => connected(stoppingToken), stoppingToken);
            }
        });
        _connection = connection;
        connection.Start();

        try
        {
            await Task.Delay(Timeout.Infinite, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Shutting down: say so, since a clean disconnect does not fire the last will.
            if (connection.IsConnected)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await connection.PublishAsync(Topics.Status(device.DeviceId), Offline, timeout.Token, retain: true).ConfigureAwait(false);
            }
        }
        finally
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private Task OnDesiredAsync(MqttIncoming message, CancellationToken cancellationToken)
    {
        try
        {
            var desired = JsonSerializer.Deserialize(message.Payload.Span, ContractsJsonContext.Default.DesiredState);
            if (desired is null)
            {
                LogMalformedDesired("document is null");
            }
            else
            {
                inbox.Post(desired);
            }
        }
        catch (JsonException ex)
        {
            LogMalformedDesired(ex.Message);
        }

        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = 2100, Level = LogLevel.Warning, Message = "Ignored a malformed desired state: {Reason}")]
    private partial void LogMalformedDesired(string reason);
}
