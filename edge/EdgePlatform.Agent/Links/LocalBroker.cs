using System.Buffers;
using System.Collections;
using System.Diagnostics.Metrics;
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
/// predictions: run embedded on loopback, or an external broker named by configuration. The
/// embedded broker lets in the users configured (anyone on a loopback broker with none), holds
/// each to <see cref="LocalBrokerPermissions"/>, and refuses a publish larger than
/// <see cref="LocalBrokerOptions.MaxPacketBytes"/>; every refusal is logged and counted.
/// </summary>
public sealed partial class LocalBroker(
    IOptions<LocalBrokerOptions> options,
    ILogger<LocalBroker> logger,
    IMeterFactory? meterFactory = null) : IHostedService, IDisposable
{
    public const string MeterName = "EdgePlatform.Agent.LocalBroker";

    private const string InProcessClientId = "edgeplatform-agent";
    private const string RoleKey = "edgeplatform.role";

    /// <summary>The session of the agent's own in-process publishes: the one exempt from the size limit.</summary>
    private static readonly Hashtable InProcessSession = new() { [RoleKey] = LocalBrokerRole.Agent };

    private readonly Meter _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
    private Counter<long>? _refusals;
    private MqttServer? _server;
    private LocalBrokerCredentials? _credentials;

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
        var credentials = LocalBrokerCredentials.Load(settings);
        var permissions = new LocalBrokerPermissions(settings);
        _credentials = credentials;
        _refusals = _meter.CreateCounter<long>("edgeplatform.agent.local_broker.refusals", description: "Connections, publishes and subscriptions the embedded local broker refused, by reason");
        Port = settings.Port == 0 ? FreePort(address) : settings.Port;
        var (v4, v6) = BrokerListenAddresses.For(address);
        _server = new MqttServerFactory().CreateMqttServer(new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(v4)
            .WithDefaultEndpointBoundIPV6Address(v6)
            .WithDefaultEndpointPort(Port)
            .WithMaxPendingMessagesPerClient(50_000)
            .Build());
        _server.ValidatingConnectionAsync += args =>
        {
            if (credentials.Authenticate(args.UserName, args.RawPassword) is { } role)
            {
                args.SessionItems[RoleKey] = role;

                // An MQTT 5 client may leave its id to the broker (mosquitto_pub does without -i);
                // MQTTnet assigns only the id given here. Over 3.1.1 it refuses an empty id regardless.
                if (string.IsNullOrEmpty(args.ClientId))
                {
                    args.AssignedClientIdentifier = $"auto-{Guid.NewGuid():N}";
                }
            }
            else
            {
                args.ReasonCode = MqttConnectReasonCode.BadUserNameOrPassword;
                Refused("login");
                LogLoginRefused(args.ClientId, args.UserName ?? string.Empty, args.RemoteEndPoint?.ToString() ?? string.Empty);
            }

            return Task.CompletedTask;
        };
        _server.InterceptingPublishAsync += args =>
        {
            var role = RoleOf(args.SessionItems);
            var message = args.ApplicationMessage;
            if (message.Payload.Length > settings.MaxPacketBytes && !ReferenceEquals(args.SessionItems, InProcessSession))
            {
                // As MQTT 5 treats a packet over the server's maximum: the client is disconnected.
                args.ProcessPublish = false;
                args.CloseConnection = true;
                Refused("packet_too_large");
                LogTooLarge(args.ClientId, args.UserName ?? string.Empty, message.Topic, message.Payload.Length, settings.MaxPacketBytes);
            }
            else if (role is not { } known || !permissions.MayPublish(known, message.Topic))
            {
                args.ProcessPublish = false;
                args.Response.ReasonCode = MqttPubAckReasonCode.NotAuthorized;
                Refused("publish_not_permitted");
                LogPublishRefused(args.ClientId, args.UserName ?? string.Empty, message.Topic);
            }

            return Task.CompletedTask;
        };
        _server.InterceptingSubscriptionAsync += args =>
        {
            if (RoleOf(args.SessionItems) is not { } role || !permissions.MaySubscribe(role, args.TopicFilter.Topic))
            {
                args.ProcessSubscription = false;
                args.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
                Refused("subscribe_not_permitted");
                LogSubscribeRefused(args.ClientId, args.UserName ?? string.Empty, args.TopicFilter.Topic);
            }

            return Task.CompletedTask;
        };
        await _server.StartAsync().ConfigureAwait(false);
        LogStarted(settings.Host, Port, credentials.Required ? "users configured" : "anonymous clients (no users configured)");
    }

    /// <summary>
    /// Settings for a client connection of the agent's own to this broker: for the embedded
    /// broker, under the agent's credential drawn at start.
    /// </summary>
    public MqttConnectionSettings ClientSettings(string clientId) =>
        _credentials is { } credentials
            ? new MqttConnectionSettings(Host, Port, clientId) { UserName = LocalBrokerCredentials.AgentUserName, Password = credentials.AgentPassword }
            : new MqttConnectionSettings(Host, Port, clientId);

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
            if (!args.ProcessPublish || MqttTopicFilterComparer.Compare(message.Topic, topicFilter) != MqttTopicFilterCompareResult.IsMatch)
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
        var injected = new InjectedMqttApplicationMessage(message)
        {
            SenderClientId = InProcessClientId,
            SenderUserName = LocalBrokerCredentials.AgentUserName,
            CustomSessionItems = InProcessSession,
        };
        await server.InjectApplicationMessage(injected, cancellationToken).ConfigureAwait(false);
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

    public void Dispose()
    {
        _server?.Dispose();
        _meter.Dispose();
    }

    /// <summary>The role the broker gave a client at login; null for a session it never admitted.</summary>
    private static LocalBrokerRole? RoleOf(IDictionary? sessionItems) =>
        sessionItems?[RoleKey] is LocalBrokerRole role ? role : null;

    private void Refused(string reason) => _refusals?.Add(1, new KeyValuePair<string, object?>("reason", reason));

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

    [LoggerMessage(EventId = 2000, Level = LogLevel.Information, Message = "Local event broker listening on {Host}:{Port}, admitting {Admits}")]
    private partial void LogStarted(string host, int port, string admits);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "Local broker refused a login: client {ClientId}, user '{UserName}', from {RemoteEndPoint}")]
    private partial void LogLoginRefused(string clientId, string userName, string remoteEndPoint);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Warning, Message = "Local broker refused a publish on {Topic} by client {ClientId}, user '{UserName}': not permitted")]
    private partial void LogPublishRefused(string clientId, string userName, string topic);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Warning, Message = "Local broker refused a subscription to {TopicFilter} by client {ClientId}, user '{UserName}': not permitted")]
    private partial void LogSubscribeRefused(string clientId, string userName, string topicFilter);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Warning, Message = "Local broker refused a {Bytes}-byte publish on {Topic} by client {ClientId}, user '{UserName}', and disconnected it: over LocalBroker:MaxPacketBytes {MaxBytes}")]
    private partial void LogTooLarge(string clientId, string userName, string topic, long bytes, int maxBytes);
}
