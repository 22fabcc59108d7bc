using System.Buffers;
using System.Security.Cryptography.X509Certificates;
using EdgePlatform.Resilience;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace EdgePlatform.Mqtt;

/// <summary>
/// An MQTT 5 client that stays connected: it reconnects with capped exponential backoff and jitter,
/// restores its subscriptions on every new session, and hands received messages to one
/// handler in arrival order. QoS 1 messages are acknowledged only after the handler returns,
/// so a message whose handler did not finish is redelivered; or, with <see cref="OnDelivery"/>,
/// when the handler acknowledges them, which may be long after it returned.
/// </summary>
public sealed partial class MqttConnection : IAsyncDisposable
{
    private readonly MqttConnectionSettings _settings;
    private readonly ILogger _logger;
    private readonly IMqttClient _client;
    private readonly Polly.ResiliencePipeline _reconnect;
    private readonly List<(string Filter, MqttQualityOfServiceLevel Qos)> _subscriptions = [];
    private readonly SemaphoreSlim _disconnected = new(0, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _acknowledging = new(1, 1);
    private Func<MqttIncoming, CancellationToken, Task>? _handler;
    private Func<MqttDelivery, CancellationToken, Task>? _deliveryHandler;
    private long _session;
    private Func<CancellationToken, Task>? _onConnected;
    private TaskCompletionSource _firstConnect = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _loop;
    private int _disposed;

    /// <param name="settings">Where and as whom to connect.</param>
    /// <param name="logger">Receives connects, failures and disconnects.</param>
    /// <param name="timeProvider">The clock reconnect pauses run on; the system clock when null.</param>
    public MqttConnection(MqttConnectionSettings settings, ILogger logger, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _settings = settings;
        _logger = logger;
        _reconnect = RetryPipelines.Create(
            settings.Reconnect,
            timeProvider ?? TimeProvider.System,
            _ => true,
            retry => LogConnectFailed(settings.ClientId, settings.Host, settings.Port, retry.Exception.Message, retry.Delay.TotalMilliseconds));
        _client = new MqttClientFactory().CreateMqttClient();
        _client.DisconnectedAsync += OnDisconnectedAsync;
        _client.ApplicationMessageReceivedAsync += OnMessageAsync;
    }

    public bool IsConnected => _client.IsConnected;

    public string ClientId => _settings.ClientId;

    /// <summary>Adds a subscription that is (re)established on every connect. Call before <see cref="Start"/>.</summary>
    public void Subscribe(string topicFilter, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce) =>
        _subscriptions.Add((topicFilter, qos));

    /// <summary>Sets the one handler for received messages. Call before <see cref="Start"/>.</summary>
    public void OnMessage(Func<MqttIncoming, CancellationToken, Task> handler) => _handler = handler;

    /// <summary>
    /// Sets the one handler for received messages, which acknowledges each itself with
    /// <see cref="MqttDelivery.AcknowledgeAsync"/> once it has done with it: messages keep arriving
    /// meanwhile, so a handler can store many together and acknowledge them after one commit.
    /// Acknowledge in arrival order (MQTT 5 requires it). A message not acknowledged on the
    /// connection it came on is delivered again on the next one. Call before <see cref="Start"/>.
    /// </summary>
    public void OnDelivery(Func<MqttDelivery, CancellationToken, Task> handler) => _deliveryHandler = handler;

    /// <summary>Runs after every successful connect, once subscriptions are in place.</summary>
    public void OnConnected(Func<CancellationToken, Task> callback) => _onConnected = callback;

    public void Start() => _loop ??= Task.Run(() => RunAsync(_stopping.Token));

    /// <summary>Completes when the client is connected (now or later).</summary>
    public async Task WaitConnectedAsync(CancellationToken cancellationToken)
    {
        if (_client.IsConnected)
        {
            return;
        }

        await _firstConnect.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Publishes and, for QoS 1, waits for the broker's acknowledgement. Throws
    /// <see cref="MqttPublishException"/> if the client is offline or the broker refused it.
    /// With <paramref name="requireSubscriber"/>, a broker that acknowledged the message but had
    /// no subscriber for it (MQTT 5 reason "no matching subscribers") counts as not delivered:
    /// for data that must reach its consumer, such as telemetry arriving before the control
    /// plane has subscribed after a broker restart.
    /// </summary>
    public async Task PublishAsync(
        string topic,
        ReadOnlyMemory<byte> payload,
        CancellationToken cancellationToken,
        MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce,
        bool retain = false,
        string? contentType = null,
        bool requireSubscriber = false)
    {
        if (!_client.IsConnected)
        {
            throw new MqttPublishException($"not connected to {_settings.Host}:{_settings.Port}");
        }

        var builder = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayloadSegment(payload)
            .WithQualityOfServiceLevel(qos)
            .WithRetainFlag(retain);
        if (contentType is not null)
        {
            builder.WithContentType(contentType);
        }

        MqttClientPublishResult result;
        try
        {
            result = await _client.PublishAsync(builder.Build(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or InvalidOperationException)
        {
            throw new MqttPublishException($"publish to '{topic}' failed: {ex.Message}", ex);
        }

        if (result.ReasonCode == MqttClientPublishReasonCode.NoMatchingSubscribers && requireSubscriber)
        {
            throw new MqttPublishException($"broker has no subscriber for '{topic}' yet; the message was not delivered");
        }

        if (!result.IsSuccess && result.ReasonCode != MqttClientPublishReasonCode.NoMatchingSubscribers)
        {
            throw new MqttPublishException($"broker refused publish to '{topic}': {result.ReasonCode} {result.ReasonString}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Hosts may register one instance under several services, so dispose can come twice.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopping is the expected way out of the loop.
            }
        }

        if (_client.IsConnected)
        {
            try
            {
                var options = new MqttClientDisconnectOptionsBuilder().WithReason(MqttClientDisconnectOptionsReason.NormalDisconnection).Build();
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _client.DisconnectAsync(options, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException)
            {
                LogDisconnectFailed(ex.Message);
            }
        }

        _client.Dispose();
        _acknowledging.Dispose();
        _disconnected.Dispose();
        _stopping.Dispose();
    }

    private async Task RunAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            if (!_client.IsConnected)
            {
                // A try that failed after the connect itself (a refused subscription, say) leaves the
                // client connected: after the pause it waits for the next disconnect, as before.
                await _reconnect.ExecuteAsync(
                    ct => _client.IsConnected ? ValueTask.CompletedTask : new ValueTask(ConnectAsync(ct)),
                    stoppingToken).ConfigureAwait(false);
            }

            // Wake on a disconnect, or poll in case the event was missed during a reconnect race.
            await _disconnected.WaitAsync(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
        }
    }

    private static bool BrokerCertificateIsTrusted(MqttClientCertificateValidationEventArgs args, X509Certificate2 ca)
    {
        if (args.Certificate is null)
        {
            return false;
        }

        using var presented = X509CertificateLoader.LoadCertificate(args.Certificate.GetRawCertData());
        return BrokerCertificatePolicy.Accepts(presented, args.SslPolicyErrors, ca);
    }

    private async Task ConnectAsync(CancellationToken cancellationToken)
    {
        _settings.Attempting?.Invoke();
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(_settings.Host, _settings.Port)
            .WithClientId(_settings.ClientId)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart(_settings.CleanStart)
            .WithSessionExpiryInterval((uint)_settings.SessionExpiry.TotalSeconds)
            .WithKeepAlivePeriod(_settings.KeepAlive)
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (_settings.ReceiveMaximum is { } receiveMaximum)
        {
            builder.WithReceiveMaximum(receiveMaximum);
        }

        // Acknowledgements of messages from the previous connection must not reach this one: the
        // broker may have given their packet identifiers to other messages by the time they would.
        await _acknowledging.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _session++;
        }
        finally
        {
            _acknowledging.Release();
        }

        if (_settings.TrustedCa is { } ca)
        {
            var tls = new MqttClientTlsOptionsBuilder()
                .UseTls()
                .WithTargetHost(_settings.Host)
                .WithSslProtocols(System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13)
                .WithCertificateValidationHandler(args => BrokerCertificateIsTrusted(args, ca));
            if (_settings.ClientCertificate is { } certificate)
            {
                tls.WithClientCertificates([certificate]);
            }

            builder.WithTlsOptions(tls.Build());
        }

        if (_settings.UserName is not null)
        {
            builder.WithCredentials(_settings.UserName, _settings.Password ?? string.Empty);
        }

        if (_settings.LastWill is { } will)
        {
            builder.WithWillTopic(will.Topic)
                .WithWillPayload(will.Payload)
                .WithWillRetain(will.Retain)
                .WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce);
        }

        var result = await _client.ConnectAsync(builder.Build(), cancellationToken).ConfigureAwait(false);
        if (result.ResultCode != MqttClientConnectResultCode.Success)
        {
            throw new MqttPublishException($"broker refused the connection: {result.ResultCode} {result.ReasonString}");
        }

        if (_subscriptions.Count > 0)
        {
            var subscribe = new MqttClientSubscribeOptionsBuilder();
            foreach (var (filter, qos) in _subscriptions)
            {
                subscribe.WithTopicFilter(filter, qos);
            }

            var subscribed = await _client.SubscribeAsync(subscribe.Build(), cancellationToken).ConfigureAwait(false);
            foreach (var item in subscribed.Items)
            {
                if (item.ResultCode > MqttClientSubscribeResultCode.GrantedQoS2)
                {
                    throw new MqttPublishException($"broker refused subscription '{item.TopicFilter.Topic}': {item.ResultCode}");
                }
            }
        }

        LogConnected(_settings.ClientId, _settings.Host, _settings.Port, result.IsSessionPresent);
        if (_onConnected is not null)
        {
            await _onConnected(cancellationToken).ConfigureAwait(false);
        }

        _firstConnect.TrySetResult();
    }

    private Task OnDisconnectedAsync(MqttClientDisconnectedEventArgs args)
    {
        if (args.ClientWasConnected && !_stopping.IsCancellationRequested)
        {
            LogDisconnected(_settings.ClientId, args.Reason.ToString(), args.Exception?.Message ?? args.ReasonString ?? string.Empty);
            _firstConnect = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        if (_disconnected.CurrentCount == 0)
        {
            try
            {
                _disconnected.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another disconnect already woke the loop.
            }
        }

        return Task.CompletedTask;
    }

    private async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs args)
    {
        if (_deliveryHandler is not null)
        {
            await OnDeliveryAsync(args).ConfigureAwait(false);
            return;
        }

        if (_handler is null)
        {
            return;
        }

        var message = args.ApplicationMessage;
        var payload = message.Payload;
        var incoming = new MqttIncoming(
            message.Topic,
            payload.IsSingleSegment ? payload.First : payload.ToArray(),
            message.ResponseTopic,
            message.CorrelationData);
        try
        {
            await _handler(incoming, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A handler fault must not tear down the connection; the message is logged and
            // acknowledged, handlers are expected to dead-letter what they cannot process.
            LogHandlerFailed(message.Topic, ex);
        }
    }

    private async Task OnDeliveryAsync(MqttApplicationMessageReceivedEventArgs args)
    {
        args.AutoAcknowledge = false;
        var message = args.ApplicationMessage;

        // The handler keeps the message past this call, so it gets its own copy of the payload.
        var delivery = new MqttDelivery(
            new MqttIncoming(message.Topic, message.Payload.ToArray(), message.ResponseTopic, message.CorrelationData),
            this,
            args,
            Interlocked.Read(ref _session));
        try
        {
            await _deliveryHandler!(delivery, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Not acknowledged: the broker delivers it again on the next connection.
            LogHandlerFailed(message.Topic, ex);
        }
    }

    internal async Task<bool> AcknowledgeAsync(MqttApplicationMessageReceivedEventArgs args, long session, CancellationToken cancellationToken)
    {
        await _acknowledging.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (session != _session || !_client.IsConnected)
            {
                return false;
            }

            await args.AcknowledgeAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or ObjectDisposedException or InvalidOperationException)
        {
            LogAcknowledgeFailed(args.ApplicationMessage.Topic, ex.Message);
            return false;
        }
        finally
        {
            _acknowledging.Release();
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "MQTT client {ClientId} connected to {Host}:{Port} (session present: {SessionPresent})")]
    private partial void LogConnected(string clientId, string host, int port, bool sessionPresent);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "MQTT client {ClientId} could not connect to {Host}:{Port}: {Reason}; retrying in {DelayMs} ms")]
    private partial void LogConnectFailed(string clientId, string host, int port, string reason, double delayMs);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "MQTT client {ClientId} disconnected ({Reason}) {Detail}")]
    private partial void LogDisconnected(string clientId, string reason, string detail);

    [LoggerMessage(EventId = 4, Level = LogLevel.Error, Message = "Handler for message on {Topic} failed")]
    private partial void LogHandlerFailed(string topic, Exception exception);

    [LoggerMessage(EventId = 5, Level = LogLevel.Debug, Message = "Disconnect on shutdown failed: {Reason}")]
    private partial void LogDisconnectFailed(string reason);

    [LoggerMessage(EventId = 6, Level = LogLevel.Debug, Message = "Acknowledgement of a message on {Topic} not sent: {Reason}")]
    private partial void LogAcknowledgeFailed(string topic, string reason);
}

/// <summary>
/// A message received through <see cref="MqttConnection.OnDelivery"/>, which its handler
/// acknowledges when it is done with it.
/// </summary>
public sealed class MqttDelivery
{
    private readonly MqttConnection _connection;
    private readonly MqttApplicationMessageReceivedEventArgs _args;
    private readonly long _session;

    internal MqttDelivery(MqttIncoming message, MqttConnection connection, MqttApplicationMessageReceivedEventArgs args, long session)
    {
        Message = message;
        _connection = connection;
        _args = args;
        _session = session;
    }

    public MqttIncoming Message { get; }

    /// <summary>
    /// Sends the QoS 1 acknowledgement (nothing for QoS 0). False when the connection the message
    /// came on is gone: the broker then delivers it again on the next one.
    /// </summary>
    public Task<bool> AcknowledgeAsync(CancellationToken cancellationToken) => _connection.AcknowledgeAsync(_args, _session, cancellationToken);
}

/// <summary>A publish or connect that the broker refused or that could not be sent.</summary>
public sealed class MqttPublishException : Exception
{
    public MqttPublishException()
    {
    }

    public MqttPublishException(string message)
        : base(message)
    {
    }

    public MqttPublishException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
