using System.Buffers;
using System.Net;
using System.Net.Sockets;
using EdgePlatform.Mqtt;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace EdgePlatform.Agent.Links;

/// <summary>
/// The device's local MQTT broker, where sensors publish events and local apps read
/// predictions: run embedded on loopback, or an external broker named by configuration.
/// </summary>
public sealed partial class LocalBroker(
    IOptions<LocalBrokerOptions> options,
    ILogger<LocalBroker> logger) : IHostedService, IDisposable
{
    private const string InProcessClientId = "edgeplatform-agent";

    private MqttServer? _server;

    public string Host => options.Value.Host;

    /// <summary>The broker's port; for the embedded broker, resolved at start when 0 was configured.</summary>
    public int Port { get; private set; } = options.Value.Port;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (!settings.IsEmbedded)
        {
            LogExternal(settings.Host, settings.Port);
            return;
        }

        var address = IPAddress.Parse(settings.Host);
        Port = settings.Port == 0 ? FreePort(address) : settings.Port;
        var (v4, v6) = BrokerListenAddresses.For(address);
        _server = new MqttServerFactory().CreateMqttServer(new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(v4)
            .WithDefaultEndpointBoundIPV6Address(v6)
            .WithDefaultEndpointPort(Port)
            .WithMaxPendingMessagesPerClient(50_000)
            .Build());
        await _server.StartAsync().ConfigureAwait(false);
        LogStarted(settings.Host, Port);
    }

    /// <summary>
    /// For the agent's own scoring on the embedded broker: hands every message published on a
    /// topic matching <paramref name="topicFilter"/> to <paramref name="handler"/> as the broker
    /// receives it, sparing the round trip through a client connection of the agent's own (other
    /// subscribers still get it). False for an external broker, or before the broker has started.
    /// </summary>
    public bool TryTap(string topicFilter, Func<MqttIncoming, CancellationToken, Task> handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(topicFilter);
        ArgumentNullException.ThrowIfNull(handler);
        if (_server is not { } server)
        {
            return false;
        }

        server.InterceptingPublishAsync += args =>
        {
            var message = args.ApplicationMessage;
            if (MqttTopicFilterComparer.Compare(message.Topic, topicFilter) != MqttTopicFilterCompareResult.IsMatch)
            {
                return Task.CompletedTask;
            }

            return handler(new MqttIncoming(message.Topic, message.Payload.ToArray(), message.ResponseTopic, message.CorrelationData), args.CancellationToken);
        };
        return true;
    }

    /// <summary>Publishes from inside the embedded broker, at most once, as the tap's counterpart.</summary>
    /// <exception cref="InvalidOperationException">The broker is external or not started.</exception>
    public async Task PublishInProcessAsync(string topic, byte[] payload, string contentType, CancellationToken cancellationToken)
    {
        var server = _server ?? throw new InvalidOperationException("the local broker is not embedded, or not started");
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtMostOnce)
            .WithContentType(contentType)
            .Build();
        await server.InjectApplicationMessage(new InjectedMqttApplicationMessage(message) { SenderClientId = InProcessClientId }, cancellationToken).ConfigureAwait(false);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is not null)
        {
            try
            {
                await _server.StopAsync().ConfigureAwait(false);
            }
            catch (InvalidOperationException ex)
            {
                // MQTTnet's listener cleanup can race a client still disconnecting; stopping anyway.
                LogStopRace(ex.Message);
            }
        }
    }

    public void Dispose() => _server?.Dispose();

    private static int FreePort(IPAddress address)
    {
        using var listener = new TcpListener(address, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Using the external local event broker at {Host}:{Port}")]
    private partial void LogExternal(string host, int port);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Debug, Message = "Local broker stop raced a disconnecting client: {Reason}")]
    private partial void LogStopRace(string reason);

    [LoggerMessage(EventId = 2000, Level = LogLevel.Information, Message = "Local event broker listening on {Host}:{Port}")]
    private partial void LogStarted(string host, int port);
}
