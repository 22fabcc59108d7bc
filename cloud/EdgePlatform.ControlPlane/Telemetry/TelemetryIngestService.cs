using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.Logging;

namespace EdgePlatform.ControlPlane.Telemetry;

/// <summary>
/// Ingests telemetry idempotently by (device, sequence). A batch that is not valid Arrow of the
/// telemetry schema, or that names another device than its topic, is rejected and counted per
/// device and reason; a report whose sequence is already stored is counted as replayed and not
/// stored again; ingest goes on. Many messages are stored in one transaction: their reports and
/// every refusal among them commit together, so a message is either wholly counted or not at all.
/// </summary>
public sealed partial class TelemetryIngestService(
    IDeviceStore devices,
    ITelemetryStore store,
    TelemetryMetrics metrics,
    TimeProvider timeProvider,
    ILogger<TelemetryIngestService> logger,
    ILatencyHistograms? histograms = null)
{
    private long _accepted;
    private long _duplicates;
    private long _rejected;

    public long Accepted => Interlocked.Read(ref _accepted);

    public long Duplicates => Interlocked.Read(ref _duplicates);

    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Ingests one message on its own.</summary>
    public async Task<TelemetryIngestResult> IngestAsync(string topicDeviceId, string kind, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken) =>
        (await IngestAsync([new TelemetryMessage(topicDeviceId, kind, payload)], cancellationToken).ConfigureAwait(false))[0];

    /// <summary>
    /// Ingests messages in the order given, in one store transaction, and returns one result per
    /// message. Throws only when the store fails, and then nothing of the messages is stored or
    /// counted: the caller may offer them again.
    /// </summary>
    public async Task<IReadOnlyList<TelemetryIngestResult>> IngestAsync(IReadOnlyList<TelemetryMessage> messages, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var enrolled = await devices.FindEnrolledAsync(
            [.. messages.Where(m => TelemetryKinds.IsKnown(m.Kind)).Select(m => m.TopicDeviceId).Distinct(StringComparer.Ordinal)],
            cancellationToken).ConfigureAwait(false);

        // Decided per message in the order a single message was always checked in, so the reason
        // counted for a message with several faults does not depend on its company.
        var outcomes = new (TelemetryRejection? Rejection, int Batch)[messages.Count];
        var batches = new List<DeviceTelemetry>(messages.Count);
        var rejections = new List<TelemetryRejection>();

        // Each perf record's histogram is decoded once, when checked, and its latencies feed the metrics.
        var latencies = new Dictionary<PerfRecord, IReadOnlyList<(double Ms, long Count)>>(ReferenceEqualityComparer.Instance);
        for (var i = 0; i < messages.Count; i++)
        {
            var rejection = Check(messages[i], enrolled, histograms, latencies, out var batch);
            if (rejection is not null)
            {
                rejections.Add(rejection);
                outcomes[i] = (rejection, -1);
            }
            else
            {
                outcomes[i] = (null, batches.Count);
                batches.Add(batch!);
            }
        }

        var stored = await store.WriteTelemetryAsync(new TelemetryWrite(timeProvider.GetUtcNow(), batches, rejections), cancellationToken).ConfigureAwait(false);

        // Counters and metrics move only once the transaction holding what they count committed.
        metrics.Committed(messages.Count);
        var results = new TelemetryIngestResult[messages.Count];
        for (var i = 0; i < messages.Count; i++)
        {
            if (outcomes[i].Rejection is { } rejection)
            {
                Interlocked.Increment(ref _rejected);
                metrics.Rejected(rejection.Reason);
                LogRejected(rejection.DeviceId, rejection.Reason, rejection.Detail);
                results[i] = new TelemetryIngestResult(0, 0, rejection.Detail);
                continue;
            }

            var batch = batches[outcomes[i].Batch];
            var accepted = stored[outcomes[i].Batch];
            var duplicates = batch.Count - accepted.Count;
            metrics.Accepted(accepted.Health);
            metrics.Accepted(accepted.Perf, latencies);
            metrics.Accepted(accepted.Quality, batch.DeviceId);
            Interlocked.Add(ref _accepted, accepted.Count);
            Interlocked.Add(ref _duplicates, duplicates);
            if (duplicates > 0)
            {
                // A device resends what the broker did not acknowledge, so some replays are expected;
                // they are counted, never stored twice.
                LogDuplicates(batch.DeviceId, duplicates);
                metrics.Replayed(duplicates);
            }

            results[i] = new TelemetryIngestResult(accepted.Count, duplicates, null);
        }

        return results;
    }

    /// <summary>Counters since this server started, and every refusal the store holds.</summary>
    public async Task<TelemetryIngestStats> GetStatsAsync(CancellationToken cancellationToken) =>
        new(Accepted, Duplicates, Rejected, await store.ListRejectionsAsync(cancellationToken).ConfigureAwait(false));

    public Task<IReadOnlyList<DeviceTelemetrySummary>> SummarizeAsync(string? deviceId, CancellationToken cancellationToken)
    {
        if (deviceId is not null && DeviceIds.Describe(deviceId) is { } problem)
        {
            throw new RequestValidationException("device", problem);
        }

        return store.SummarizeAsync(deviceId, cancellationToken);
    }

    private static TelemetryRejection? Check(
        TelemetryMessage message,
        IReadOnlySet<string> enrolled,
        ILatencyHistograms? histograms,
        Dictionary<PerfRecord, IReadOnlyList<(double Ms, long Count)>> latencies,
        out DeviceTelemetry? batch)
    {
        batch = null;
        var device = message.TopicDeviceId;
        if (!TelemetryKinds.IsKnown(message.Kind))
        {
            return new TelemetryRejection(device, TelemetryRejections.UnknownKind, 1, $"unknown telemetry kind '{message.Kind}'");
        }

        if (!enrolled.Contains(device))
        {
            return new TelemetryRejection(device, TelemetryRejections.UnknownDevice, 1, "device is not enrolled");
        }

        string named;
        try
        {
            (named, batch) = Decode(device, message.Kind, message.Payload);
        }
        catch (TelemetryFormatException ex)
        {
            return new TelemetryRejection(device, TelemetryRejections.Malformed, 1, $"malformed batch: {ex.Message}");
        }

        if (!string.Equals(named, device, StringComparison.Ordinal))
        {
            batch = null;
            return new TelemetryRejection(device, TelemetryRejections.ForeignDevice, 1, $"batch names device '{named}', not the topic's");
        }

        if (histograms is not null)
        {
            foreach (var record in batch.Perf)
            {
                if (histograms.Read(record.LatencyHistogram, out var problem) is not { } values)
                {
                    // Latencies read from this message's earlier records stay unused: none of it is stored.
                    batch = null;
                    return new TelemetryRejection(device, TelemetryRejections.Malformed, 1, $"malformed batch: sequence {record.Sequence}: latency_histogram: {problem}");
                }

                latencies[record] = values;
            }
        }

        return null;
    }

    /// <summary>The payload as the Arrow schema of its kind, and the device the batch names.</summary>
    private static (string DeviceId, DeviceTelemetry Batch) Decode(string topicDeviceId, string kind, ReadOnlyMemory<byte> payload)
    {
        switch (kind)
        {
            case TelemetryKinds.Perf:
                var perf = PerfArrow.Deserialize(payload);
                return (perf.DeviceId, new DeviceTelemetry(topicDeviceId, kind, []) { Perf = perf.Records });
            case TelemetryKinds.Quality:
                var quality = QualityArrow.Deserialize(payload);
                return (quality.DeviceId, new DeviceTelemetry(topicDeviceId, kind, []) { Quality = quality.Records });
            default:
                var health = TelemetryArrow.Deserialize(payload);
                return (health.DeviceId, new DeviceTelemetry(topicDeviceId, kind, health.Records));
        }
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Warning, Message = "Rejected telemetry on device {DeviceId}'s topic ({Reason}): {Detail}")]
    private partial void LogRejected(string deviceId, string reason, string detail);

    [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "Ignored {Count} already-ingested telemetry report(s) from device {DeviceId}")]
    private partial void LogDuplicates(string deviceId, int count);
}

/// <summary>One telemetry message as it arrived: the device and kind its topic names, and its payload.</summary>
public readonly record struct TelemetryMessage(string TopicDeviceId, string Kind, ReadOnlyMemory<byte> Payload);

public sealed record TelemetryIngestResult(int Accepted, int Duplicates, string? RejectedBecause);
