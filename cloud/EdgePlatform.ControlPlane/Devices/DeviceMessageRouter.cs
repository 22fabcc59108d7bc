using System.Threading.Channels;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Telemetry;
using EdgePlatform.Resilience;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Devices;

/// <summary>
/// Routes messages that devices publish under <c>devices/{id}/...</c> to their handlers. Messages
/// from the broker wait in a bounded queue, in arrival order; one writer takes what has queued
/// and stores runs of telemetry messages in one transaction each, then acknowledges them to the
/// broker, so a control plane that dies mid-batch has acknowledged nothing it did not store and
/// the broker delivers the rest again. Twin and status messages keep their place in the order:
/// the telemetry before them is stored and acknowledged first.
/// </summary>
public sealed partial class DeviceMessageRouter : BackgroundService
{
    public const string ReportedSuffix = "twin/reported";
    public const string StatusSuffix = "status";
    public const string TelemetryPrefix = "telemetry/";

    private readonly FleetService _fleet;
    private readonly TelemetryIngestService _telemetry;
    private readonly ILogger<DeviceMessageRouter> _logger;
    private readonly Polly.ResiliencePipeline _storeRetry;
    private readonly Channel<DeviceMessage> _queue;
    private readonly int _batchMessages;
    private int _storing;

    public DeviceMessageRouter(
        FleetService fleet,
        TelemetryIngestService telemetry,
        IOptions<TelemetryStoreOptions> options,
        TimeProvider timeProvider,
        ILogger<DeviceMessageRouter> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _fleet = fleet;
        _telemetry = telemetry;
        _logger = logger;

        // The one writer stores one run at a time, so the run being retried is the one in the log.
        _storeRetry = RetryPipelines.Create(
            options.Value.StoreRetry,
            timeProvider,
            _ => true,
            failure => LogStoreFailed(_storing, failure.Delay.TotalSeconds, failure.Exception));
        _batchMessages = options.Value.IngestBatchMessages;
        QueueCapacity = options.Value.IngestQueueMessages;
        _queue = Channel.CreateBounded<DeviceMessage>(new BoundedChannelOptions(QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
    }

    /// <summary>Messages that may wait unstored; the device link asks the broker to send no more unacknowledged than this.</summary>
    public int QueueCapacity { get; }

    /// <summary>
    /// Queues a message for the writer, waiting while the queue is full. Throws
    /// <see cref="ChannelClosedException"/> once the router is stopping: the message is then not
    /// acknowledged, and the broker delivers it again.
    /// </summary>
    public ValueTask EnqueueAsync(DeviceMessage message, CancellationToken cancellationToken) =>
        _queue.Writer.WriteAsync(message, cancellationToken);

    /// <summary>Handles one message now, outside the queue.</summary>
    public async Task RouteAsync(string topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        if (!TryParse(topic, out var deviceId, out var rest))
        {
            LogUnroutable(topic);
            return;
        }

        if (rest.StartsWith(TelemetryPrefix, StringComparison.Ordinal))
        {
            await _telemetry.IngestAsync(deviceId, rest[TelemetryPrefix.Length..], payload, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await RouteStateAsync(topic, deviceId, rest, payload, cancellationToken).ConfigureAwait(false);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Refuse new messages, then let the writer store and acknowledge what is queued: devices
        // hold acknowledgements for those from the broker, and an embedded broker keeps nothing.
        _queue.Writer.TryComplete();
        if (ExecuteTask is { } writer)
        {
            try
            {
                await writer.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                LogStoppedWithQueue(_queue.Reader.Count);
            }
        }

        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var taken = new List<DeviceMessage>(_batchMessages);
        var telemetry = new List<(DeviceMessage Message, TelemetryMessage Telemetry)>(_batchMessages);
        try
        {
            // Ends when StopAsync completed the queue and everything in it was handled.
            while (await _queue.Reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                while (taken.Count < _batchMessages && _queue.Reader.TryRead(out var message))
                {
                    taken.Add(message);
                }

                foreach (var message in taken)
                {
                    var routable = TryParse(message.Topic, out var deviceId, out var rest);
                    if (routable && rest.StartsWith(TelemetryPrefix, StringComparison.Ordinal))
                    {
                        telemetry.Add((message, new TelemetryMessage(deviceId, rest[TelemetryPrefix.Length..], message.Payload)));
                        continue;
                    }

                    // Acknowledgements go out in arrival order (MQTT 5 asks it), so the run of
                    // telemetry before this message is stored and acknowledged first.
                    await StoreTelemetryAsync(telemetry, stoppingToken).ConfigureAwait(false);
                    if (routable)
                    {
                        await HandleStateAsync(message.Topic, deviceId, rest, message.Payload, stoppingToken).ConfigureAwait(false);
                    }
                    else
                    {
                        LogUnroutable(message.Topic);
                    }

                    await AcknowledgeAsync(message, stoppingToken).ConfigureAwait(false);
                }

                await StoreTelemetryAsync(telemetry, stoppingToken).ConfigureAwait(false);
                taken.Clear();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopped while the store was failing: what is left stays unacknowledged for the broker to resend.
        }
    }

    private static bool TryParse(string topic, out string deviceId, out string rest) =>
        Topics.TryParseDeviceTopic(topic, out deviceId, out rest) && DeviceIds.IsValid(deviceId);

    /// <summary>
    /// Stores a run of telemetry messages in one transaction and then acknowledges each in
    /// order. A store that fails is retried with growing, jittered pauses until it succeeds or the host
    /// stops: nothing is acknowledged, so nothing is lost, meanwhile the queue fills and the
    /// broker holds the rest.
    /// </summary>
    private async Task StoreTelemetryAsync(List<(DeviceMessage Message, TelemetryMessage Telemetry)> run, CancellationToken stoppingToken)
    {
        if (run.Count == 0)
        {
            return;
        }

        _storing = run.Count;
        TelemetryMessage[] messages = [.. run.Select(r => r.Telemetry)];
        await _storeRetry.ExecuteAsync(ct => new ValueTask(_telemetry.IngestAsync(messages, ct)), stoppingToken).ConfigureAwait(false);

        foreach (var (message, _) in run)
        {
            await AcknowledgeAsync(message, stoppingToken).ConfigureAwait(false);
        }

        run.Clear();
    }

    private async Task HandleStateAsync(string topic, string deviceId, string rest, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        try
        {
            await RouteStateAsync(topic, deviceId, rest, payload, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A twin or status update that cannot be applied is superseded by the device's next one;
            // holding the queue for it would hold every device's telemetry.
            LogHandlerFailed(topic, ex);
        }
    }

    private async Task RouteStateAsync(string topic, string deviceId, string rest, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        if (string.Equals(rest, ReportedSuffix, StringComparison.Ordinal))
        {
            await _fleet.HandleReportedAsync(deviceId, payload, cancellationToken).ConfigureAwait(false);
        }
        else if (string.Equals(rest, StatusSuffix, StringComparison.Ordinal))
        {
            await _fleet.HandleStatusAsync(deviceId, payload, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            LogUnroutable(topic);
        }
    }

    private async Task AcknowledgeAsync(DeviceMessage message, CancellationToken cancellationToken)
    {
        if (!await message.AcknowledgeAsync(cancellationToken).ConfigureAwait(false))
        {
            // Its connection is gone; the broker delivers it again on the next one, and the
            // store recognises what it already holds.
            LogAcknowledgementLost(message.Topic);
        }
    }

    [LoggerMessage(EventId = 120, Level = LogLevel.Debug, Message = "No handler for topic {Topic}")]
    private partial void LogUnroutable(string topic);

    [LoggerMessage(EventId = 122, Level = LogLevel.Error, Message = "Storing {Count} telemetry message(s) failed; retrying in {Seconds} s, nothing acknowledged meanwhile")]
    private partial void LogStoreFailed(int count, double seconds, Exception exception);

    [LoggerMessage(EventId = 123, Level = LogLevel.Error, Message = "Handler for message on {Topic} failed")]
    private partial void LogHandlerFailed(string topic, Exception exception);

    [LoggerMessage(EventId = 124, Level = LogLevel.Debug, Message = "Acknowledgement of a message on {Topic} not sent: its broker connection is gone")]
    private partial void LogAcknowledgementLost(string topic);

    [LoggerMessage(EventId = 125, Level = LogLevel.Warning, Message = "Stopped with {Count} device message(s) still queued; they were not acknowledged")]
    private partial void LogStoppedWithQueue(int count);
}

/// <summary>
/// A message a device published, as the broker delivered it. <see cref="AcknowledgeAsync"/>
/// tells the broker it was handled (the QoS 1 acknowledgement) and returns false when the
/// connection it came on is gone, in which case the broker delivers it again.
/// </summary>
public sealed record DeviceMessage(string Topic, ReadOnlyMemory<byte> Payload, Func<CancellationToken, Task<bool>> AcknowledgeAsync);
