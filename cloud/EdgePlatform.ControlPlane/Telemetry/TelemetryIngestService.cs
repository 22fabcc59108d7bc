using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.Logging;

namespace EdgePlatform.ControlPlane.Telemetry;

/// <summary>
/// Ingests telemetry batches idempotently by (device, sequence). A batch that is not valid
/// Arrow of the telemetry schema, or that names another device than its topic, is rejected
/// and counted per device and reason; a report whose sequence is already stored is counted as
/// replayed and not stored again; ingest goes on.
/// </summary>
public sealed partial class TelemetryIngestService(
    IDeviceStore devices,
    ITelemetryStore store,
    TelemetryMetrics metrics,
    TimeProvider timeProvider,
    ILogger<TelemetryIngestService> logger)
{
    private long _accepted;
    private long _duplicates;
    private long _rejected;

    public long Accepted => Interlocked.Read(ref _accepted);

    public long Duplicates => Interlocked.Read(ref _duplicates);

    public long Rejected => Interlocked.Read(ref _rejected);

    public async Task<TelemetryIngestResult> IngestAsync(string topicDeviceId, string kind, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        if (kind is not (TelemetryKinds.Health or TelemetryKinds.Perf or TelemetryKinds.Quality))
        {
            return await RejectAsync(topicDeviceId, TelemetryRejections.UnknownKind, $"unknown telemetry kind '{kind}'", cancellationToken).ConfigureAwait(false);
        }

        if (await devices.GetDeviceAsync(topicDeviceId, cancellationToken).ConfigureAwait(false) is null)
        {
            return await RejectAsync(topicDeviceId, TelemetryRejections.UnknownDevice, "device is not enrolled", cancellationToken).ConfigureAwait(false);
        }

        TelemetryBatch batch;
        try
        {
            batch = TelemetryArrow.Deserialize(payload);
        }
        catch (TelemetryFormatException ex)
        {
            return await RejectAsync(topicDeviceId, TelemetryRejections.Malformed, $"malformed batch: {ex.Message}", cancellationToken).ConfigureAwait(false);
        }

        if (!string.Equals(batch.DeviceId, topicDeviceId, StringComparison.Ordinal))
        {
            return await RejectAsync(topicDeviceId, TelemetryRejections.ForeignDevice, $"batch names device '{batch.DeviceId}', not the topic's", cancellationToken).ConfigureAwait(false);
        }

        var now = timeProvider.GetUtcNow();
        var stored = await store.AddTelemetryAsync(topicDeviceId, kind, batch.Records, now, cancellationToken).ConfigureAwait(false);
        var accepted = stored.Count;
        var duplicates = batch.Records.Count - accepted;
        metrics.Accepted(stored);
        Interlocked.Add(ref _accepted, accepted);
        Interlocked.Add(ref _duplicates, duplicates);
        if (duplicates > 0)
        {
            // A device resends what the broker did not acknowledge, so some replays are expected;
            // they are counted, never stored twice.
            LogDuplicates(topicDeviceId, duplicates);
            metrics.Replayed(duplicates);
            await store.AddRejectionAsync(
                topicDeviceId,
                TelemetryRejections.ReplayedSequence,
                duplicates,
                $"sequences {batch.Records.Min(r => r.Sequence)}..{batch.Records.Max(r => r.Sequence)} held {duplicates} already ingested",
                now,
                cancellationToken).ConfigureAwait(false);
        }

        return new TelemetryIngestResult(accepted, duplicates, null);
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

    private async Task<TelemetryIngestResult> RejectAsync(string deviceId, string reason, string detail, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _rejected);
        metrics.Rejected(reason);
        LogRejected(deviceId, reason, detail);
        await store.AddRejectionAsync(deviceId, reason, 1, detail, timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        return new TelemetryIngestResult(0, 0, detail);
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Warning, Message = "Rejected telemetry on device {DeviceId}'s topic ({Reason}): {Detail}")]
    private partial void LogRejected(string deviceId, string reason, string detail);

    [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "Ignored {Count} already-ingested telemetry report(s) from device {DeviceId}")]
    private partial void LogDuplicates(string deviceId, int count);
}

public sealed record TelemetryIngestResult(int Accepted, int Duplicates, string? RejectedBecause);
