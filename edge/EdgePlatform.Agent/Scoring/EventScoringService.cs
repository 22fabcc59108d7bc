using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using EdgePlatform.Agent.Core.Telemetry;
using EdgePlatform.Agent.Inference;
using EdgePlatform.Agent.Inference.Engine;
using EdgePlatform.Agent.Links;
using EdgePlatform.Contracts;
using EdgePlatform.Mqtt;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgePlatform.Agent.Scoring;

/// <summary>
/// Feeds events from the local broker to the inference engine and publishes what becomes of
/// them: a JSON event gets one JSON prediction, an Arrow record batch gets one Arrow batch of
/// predictions, and an event that cannot be bound goes to the dead-letter topic with the
/// reason. The stream never stops for a bad event, and no event is lost silently: an event the
/// engine refuses or drops is counted. Labelled feedback on the feedback topic is matched to the
/// predictions it labels; feedback that is malformed or matches none is counted and dead-lettered
/// with the reason.
/// </summary>
public sealed partial class EventScoringService(
    InferenceEngine engine,
    ScoringMetrics metrics,
    FeedbackRecorder feedback,
    IOptions<LocalBrokerOptions> options,
    LocalBroker broker,
    TimeProvider timeProvider,
    ILoggerFactory loggerFactory) : BackgroundService, IInferenceSink
{
    private const int DeadLetterPayloadLimit = 4096;

    private readonly ILogger<EventScoringService> _logger = loggerFactory.CreateLogger<EventScoringService>();

    // Outcomes are reported on the engine's scoring thread; publishing happens on its own loop
    // so the broker's pace never holds up scoring.
    private readonly Channel<Outgoing> _outgoing = Channel.CreateUnbounded<Outgoing>(new UnboundedChannelOptions { SingleReader = true });
    private Func<string, byte[], string, CancellationToken, Task>? _publish;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        MqttConnection? connection = null;
        if (broker.TryTap(settings.EventsTopic, OnEventAsync) && broker.TryTap(settings.FeedbackTopic, OnFeedbackAsync))
        {
            // The embedded broker is in this process: take events from it and hand it
            // predictions directly, rather than through a client connection to ourselves.
            _publish = (topic, payload, contentType, cancellationToken) => broker.PublishInProcessAsync(topic, payload, contentType, cancellationToken);
        }
        else
        {
            connection = new MqttConnection(
                broker.ClientSettings($"edgeplatform-agent-{Environment.ProcessId}") with { CleanStart = true },
                loggerFactory.CreateLogger<MqttConnection>());
            connection.Subscribe(settings.EventsTopic);
            connection.Subscribe(settings.FeedbackTopic);
            connection.OnMessage((message, cancellationToken) =>
                MqttTopicFilterComparer.Compare(message.Topic, settings.FeedbackTopic) == MqttTopicFilterCompareResult.IsMatch
                    ? OnFeedbackAsync(message, cancellationToken)
                    : OnEventAsync(message, cancellationToken));
            // Local consumers are on the same machine; at-most-once keeps the hot path free of acknowledgements.
            _publish = (topic, payload, contentType, cancellationToken) =>
                connection.PublishAsync(topic, payload, cancellationToken, MqttQualityOfServiceLevel.AtMostOnce, contentType: contentType);
            connection.Start();
        }

        try
        {
            await PublishLoopAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Normal shutdown.
        }
        finally
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    public void OnScored(in InferenceEvent inferenceEvent, in ScoredEvent scored)
    {
        metrics.RecordScored(scored.Latency);
        var prediction = new Prediction(
            scored.CorrelationId,
            scored.Model.Name,
            scored.Model.Version,
            scored.Arm,
            scored.Prediction.Label,
            scored.Prediction.Score,
            scored.Prediction.Probability,
            scored.Latency.TotalMilliseconds,
            timeProvider.GetUtcNow())
        {
            Class = scored.Prediction.Class,
            Probabilities = scored.Prediction.Probabilities,
        };
        if (inferenceEvent.State is ArrowMessage batch)
        {
            batch.Complete(inferenceEvent.Row, prediction, this);
            return;
        }

        Post(new Outgoing(
            options.Value.PredictionsTopic,
            JsonSerializer.SerializeToUtf8Bytes(prediction, ContractsJsonContext.Default.Prediction),
            MediaTypes.Json));
    }

    public void OnFailed(in InferenceEvent inferenceEvent, EventOutcome outcome, string reason)
    {
        var source = inferenceEvent.State switch
        {
            ArrowMessage batch => batch.Topic,
            string topic => topic,
            _ => string.Empty,
        };
        if (outcome is EventOutcome.Dropped or EventOutcome.Stopped)
        {
            // Shed load: publishing a dead letter for every dropped event would add to it. The
            // engine counts drops; telemetry counts them as errors, and drops apart as well.
            if (outcome == EventOutcome.Dropped)
            {
                metrics.RecordDropped();
            }
            else
            {
                metrics.RecordError();
            }

            LogDropped(source, reason);
        }
        else
        {
            if (outcome == EventOutcome.ScoringFailed)
            {
                metrics.RecordError();
            }
            else
            {
                metrics.RecordDeadLettered();
            }

            if (inferenceEvent.State is ArrowMessage message)
            {
                // Lettered with the rest of its batch, one letter per reason: a column the agent
                // cannot read fails every row alike and is reported once, not once per row.
                message.Complete(inferenceEvent.Row, null, this, reason);
                return;
            }

            PostDeadLetter(source, reason, Truncated(inferenceEvent.Json.Span));
        }

        if (inferenceEvent.State is ArrowMessage arrowMessage)
        {
            arrowMessage.Complete(inferenceEvent.Row, null, this);
        }
    }

    private Task OnEventAsync(MqttIncoming message, CancellationToken cancellationToken)
    {
        // The broker client may reuse its receive buffer once this handler returns; the event
        // outlives it in the queue, so it is copied once here.
        var payload = message.Payload.ToArray();
        if (IsArrowStream(payload))
        {
            EnqueueArrow(message.Topic, payload);
        }
        else
        {
            metrics.RecordReceived();
            if (!engine.TryEnqueue(InferenceEvent.FromJson(payload, this, message.Topic)))
            {
                Refused(message.Topic);
            }
        }

        return Task.CompletedTask;
    }

    private void EnqueueArrow(string topic, byte[] payload)
    {
        try
        {
            using var reader = new ArrowStreamReader(payload);
            while (reader.ReadNextRecordBatch() is { } batch)
            {
                if (RowsOf(topic, batch) is not { } rows)
                {
                    continue;
                }

                var message = new ArrowMessage(topic, batch);
                for (var row = 0; row < rows.RowCount; row++)
                {
                    metrics.RecordReceived();
                    if (!engine.TryEnqueue(InferenceEvent.FromRow(rows, row, this, message)))
                    {
                        Refused(topic);
                        message.Complete(row, null, this);
                    }
                }
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or ArgumentException or OverflowException)
        {
            metrics.RecordReceived();
            metrics.RecordDeadLettered();
            PostDeadLetter(topic, $"payload is not a readable Arrow IPC stream: {ex.Message}", $"{payload.Length} bytes of Arrow IPC");
        }
    }

    /// <summary>
    /// The batch's rows, or null when its id column, or the column an experiment splits on, is
    /// one the agent cannot read: then the whole batch is dead-lettered, each row counted, rather
    /// than scored into predictions that no event or feedback could be matched to.
    /// </summary>
    private ArrowEventRows? RowsOf(string topic, RecordBatch batch)
    {
        try
        {
            return new ArrowEventRows(batch, engine.Arms is { Mode: ArmMode.Split } policy ? policy.KeyField : null);
        }
        catch (EventBindingException ex)
        {
            for (var row = 0; row < batch.Length; row++)
            {
                metrics.RecordReceived();
                metrics.RecordDeadLettered();
            }

            PostDeadLetter(topic, ex.Message, DescribeRows(Enumerable.Range(0, batch.Length).ToList(), batch.Length));
            batch.Dispose();
            return null;
        }
    }

    private void PostDeadLetter(string topic, string reason, string payload)
    {
        LogDeadLettered(topic, reason);
        var letter = new DeadLetter(null, topic, reason, payload, timeProvider.GetUtcNow());
        Post(new Outgoing(options.Value.DeadLetterTopic, JsonSerializer.SerializeToUtf8Bytes(letter, ContractsJsonContext.Default.DeadLetter), MediaTypes.Json));
    }

    /// <summary>Rows of an Arrow batch as a dead letter's payload names them: "rows 0–3, 9 of an Arrow record batch of 64 rows".</summary>
    private static string DescribeRows(List<int> rows, int batchRows)
    {
        const int NamedRanges = 16;
        if (batchRows == 0)
        {
            return "an empty Arrow record batch";
        }

        if (rows.Count == batchRows && batchRows > 1)
        {
            return $"all {batchRows} rows of an Arrow record batch";
        }

        var ranges = new List<string>();
        var next = 0;
        while (next < rows.Count && ranges.Count < NamedRanges)
        {
            var first = rows[next];
            while (next + 1 < rows.Count && rows[next + 1] == rows[next] + 1)
            {
                next++;
            }

            ranges.Add(rows[next] == first ? $"{first}" : $"{first}–{rows[next]}");
            next++;
        }

        var named = string.Join(", ", ranges) + (next < rows.Count ? $", … ({rows.Count} rows in all)" : string.Empty);
        return $"{(rows.Count == 1 ? "row" : "rows")} {named} of an Arrow record batch of {batchRows} {(batchRows == 1 ? "row" : "rows")}";
    }

    private void Refused(string topic)
    {
        metrics.RecordDropped();
        LogRefused(topic);
    }

    private Task OnFeedbackAsync(MqttIncoming message, CancellationToken cancellationToken)
    {
        var result = feedback.Record(message.Payload.Span);
        if (result.Outcome != FeedbackOutcome.Matched)
        {
            LogFeedbackRejected(message.Topic, result.Outcome, result.Reason!);
            var letter = new DeadLetter(result.CorrelationId, message.Topic, result.Reason!, Truncated(message.Payload.Span), timeProvider.GetUtcNow());
            Post(new Outgoing(options.Value.FeedbackDeadLetterTopic, JsonSerializer.SerializeToUtf8Bytes(letter, ContractsJsonContext.Default.DeadLetter), MediaTypes.Json));
        }

        return Task.CompletedTask;
    }

    private string PredictionsTopic => options.Value.PredictionsTopic;

    private void Post(Outgoing outgoing) => _outgoing.Writer.TryWrite(outgoing);

    private async Task PublishLoopAsync(CancellationToken stoppingToken)
    {
        var reader = _outgoing.Reader;
        while (await reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
        {
            while (reader.TryRead(out var next))
            {
                try
                {
                    await _publish!(next.Topic, next.Payload, next.ContentType, stoppingToken).ConfigureAwait(false);
                }
                catch (MqttPublishException ex)
                {
                    LogPublishFailed(next.Topic, ex.Message);
                }
            }
        }
    }

    /// <summary>An Arrow IPC stream starts with the 0xFFFFFFFF continuation marker, which no JSON text can.</summary>
    private static bool IsArrowStream(ReadOnlySpan<byte> payload) =>
        payload.Length >= 8 && payload[0] == 0xFF && payload[1] == 0xFF && payload[2] == 0xFF && payload[3] == 0xFF;

    private static string Truncated(ReadOnlySpan<byte> payload) => payload.Length <= DeadLetterPayloadLimit
        ? Encoding.UTF8.GetString(payload)
        : Encoding.UTF8.GetString(payload[..DeadLetterPayloadLimit]) + "…";

    private readonly record struct Outgoing(string Topic, byte[] Payload, string ContentType);

    /// <summary>One Arrow message in flight: its predictions are published together once every row has an outcome.</summary>
    private sealed class ArrowMessage(string topic, RecordBatch batch)
    {
        private readonly Prediction?[] _predictions = new Prediction?[batch.Length];
        private readonly string?[] _failures = new string?[batch.Length];
        private int _pending = batch.Length;
        private int _deadLettered;

        public string Topic { get; } = topic;

        /// <summary>Records row <paramref name="row"/>'s outcome: its prediction, or why it was dead-lettered, or neither (dropped).</summary>
        public void Complete(int row, Prediction? prediction, EventScoringService owner, string? deadLetterReason = null)
        {
            _predictions[row] = prediction;
            _failures[row] = deadLetterReason;
            if (deadLetterReason is not null)
            {
                Interlocked.Increment(ref _deadLettered);
            }

            if (Interlocked.Decrement(ref _pending) != 0)
            {
                return;
            }

            batch.Dispose();
            var scored = new List<Prediction>(_predictions.Length);
            foreach (var scoredRow in _predictions)
            {
                if (scoredRow is not null)
                {
                    scored.Add(scoredRow);
                }
            }

            if (scored.Count > 0)
            {
                owner.Post(new Outgoing(owner.PredictionsTopic, PredictionArrow.Serialize(scored), MediaTypes.ArrowStream));
            }

            // The common case, a batch that bound whole, skips grouping reasons it does not have.
            if (Volatile.Read(ref _deadLettered) == 0)
            {
                return;
            }

            var failed = Enumerable.Range(0, _failures.Length).Where(r => _failures[r] is not null);
            foreach (var rows in failed.GroupBy(r => _failures[r]!, StringComparer.Ordinal))
            {
                owner.PostDeadLetter(Topic, rows.Key, DescribeRows([.. rows], _failures.Length));
            }
        }
    }

    [LoggerMessage(EventId = 2200, Level = LogLevel.Warning, Message = "Event on {Topic} dead-lettered: {Reason}")]
    private partial void LogDeadLettered(string topic, string reason);

    [LoggerMessage(EventId = 2203, Level = LogLevel.Debug, Message = "Event on {Topic} dropped: {Reason}")]
    private partial void LogDropped(string topic, string reason);

    [LoggerMessage(EventId = 2204, Level = LogLevel.Debug, Message = "Event on {Topic} refused: the inference queue is full")]
    private partial void LogRefused(string topic);

    [LoggerMessage(EventId = 2205, Level = LogLevel.Warning, Message = "Feedback on {Topic} {Outcome}, dead-lettered: {Reason}")]
    private partial void LogFeedbackRejected(string topic, FeedbackOutcome outcome, string reason);

    [LoggerMessage(EventId = 2202, Level = LogLevel.Warning, Message = "Could not publish on local topic {Topic}: {Reason}")]
    private partial void LogPublishFailed(string topic, string reason);
}
