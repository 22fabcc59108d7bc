using System.Text;
using System.Text.Json;
using EdgePlatform.Agent.Core.Telemetry;
using EdgePlatform.Agent.Inference;
using EdgePlatform.Agent.Links;
using EdgePlatform.Contracts;
using EdgePlatform.Mqtt;
using Microsoft.Extensions.Options;
using MQTTnet.Protocol;

namespace EdgePlatform.Agent.Scoring;

/// <summary>
/// Scores events from the local broker with the active model and publishes each prediction
/// locally. An event that cannot be bound (not JSON, a missing or mistyped field) goes to the
/// dead-letter topic with the reason; the stream never stops for a bad event.
/// </summary>
public sealed partial class EventScoringService(
    ModelHost models,
    ScoringMetrics metrics,
    IOptions<LocalBrokerOptions> options,
    LocalBroker broker,
    TimeProvider timeProvider,
    ILoggerFactory loggerFactory) : BackgroundService
{
    private readonly ILogger<EventScoringService> _logger = loggerFactory.CreateLogger<EventScoringService>();
    private MqttConnection? _connection;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var port = broker.Port;
        var connection = new MqttConnection(
            new MqttConnectionSettings(broker.Host, port, $"edgeplatform-agent-{Environment.ProcessId}") { CleanStart = true },
            loggerFactory.CreateLogger<MqttConnection>());
        connection.Subscribe(settings.EventsTopic);
        connection.OnMessage(ScoreAsync);
        _connection = connection;
        connection.Start();
        try
        {
            await Task.Delay(Timeout.Infinite, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Normal shutdown.
        }
        finally
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task ScoreAsync(MqttIncoming message, CancellationToken cancellationToken)
    {
        metrics.RecordReceived();
        ScoreResult result;
        try
        {
            if (!models.TryScore(message.Payload.Span, out result))
            {
                await DeadLetterAsync(message, null, "no model is active", cancellationToken).ConfigureAwait(false);
                return;
            }
        }
        catch (EventBindingException ex)
        {
            await DeadLetterAsync(message, null, ex.Message, cancellationToken).ConfigureAwait(false);
            return;
        }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException ex)
        {
            metrics.RecordError();
            LogScoringFailed(message.Topic, ex.Message);
            await DeadLetterAsync(message, null, $"scoring failed: {ex.Message}", cancellationToken, countAsDeadLetter: false).ConfigureAwait(false);
            return;
        }

        metrics.RecordScored(result.Latency);
        var prediction = new Prediction(
            result.CorrelationId,
            result.Model.Name,
            result.Model.Version,
            Arms.Control,
            result.Label,
            result.Score,
            result.Probability,
            result.Latency.TotalMilliseconds,
            timeProvider.GetUtcNow());
        await PublishLocalAsync(
            options.Value.PredictionsTopic,
            JsonSerializer.SerializeToUtf8Bytes(prediction, ContractsJsonContext.Default.Prediction),
            cancellationToken).ConfigureAwait(false);
    }

    private async Task DeadLetterAsync(MqttIncoming message, string? correlationId, string reason, CancellationToken cancellationToken, bool countAsDeadLetter = true)
    {
        if (countAsDeadLetter)
        {
            metrics.RecordDeadLettered();
        }

        LogDeadLettered(message.Topic, reason);
        var payload = message.Payload.Length <= 4096
            ? Encoding.UTF8.GetString(message.Payload.Span)
            : Encoding.UTF8.GetString(message.Payload.Span[..4096]) + "…";
        var letter = new DeadLetter(correlationId, message.Topic, reason, payload, timeProvider.GetUtcNow());
        await PublishLocalAsync(
            options.Value.DeadLetterTopic,
            JsonSerializer.SerializeToUtf8Bytes(letter, ContractsJsonContext.Default.DeadLetter),
            cancellationToken).ConfigureAwait(false);
    }

    private async Task PublishLocalAsync(string topic, byte[] payload, CancellationToken cancellationToken)
    {
        try
        {
            // Local consumers are on the same machine; at-most-once keeps the hot path free of acknowledgements.
            await _connection!.PublishAsync(topic, payload, cancellationToken, MqttQualityOfServiceLevel.AtMostOnce, contentType: MediaTypes.Json).ConfigureAwait(false);
        }
        catch (MqttPublishException ex)
        {
            LogPublishFailed(topic, ex.Message);
        }
    }

    [LoggerMessage(EventId = 2200, Level = LogLevel.Warning, Message = "Event on {Topic} dead-lettered: {Reason}")]
    private partial void LogDeadLettered(string topic, string reason);

    [LoggerMessage(EventId = 2201, Level = LogLevel.Error, Message = "Scoring an event from {Topic} failed: {Reason}")]
    private partial void LogScoringFailed(string topic, string reason);

    [LoggerMessage(EventId = 2202, Level = LogLevel.Warning, Message = "Could not publish on local topic {Topic}: {Reason}")]
    private partial void LogPublishFailed(string topic, string reason);
}
