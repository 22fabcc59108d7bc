using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.Logging;

namespace EdgePlatform.ControlPlane.Telemetry;

/// <summary>
/// Ingests telemetry batches idempotently by (device, sequence). A batch that is not valid
/// Arrow of the telemetry schema, or that names another device than its topic, is rejected
/// and counted; ingest goes on.
/// </summary>
public sealed partial class TelemetryIngestService(
    IDeviceStore devices,
    ITelemetryStore store,
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
            return Reject(topicDeviceId, $"unknown telemetry kind '{kind}'");
        }

        if (await devices.GetDeviceAsync(topicDeviceId, cancellationToken).ConfigureAwait(false) is null)
        {
            return Reject(topicDeviceId, "device is not enrolled");
        }

        TelemetryBatch batch;
        try
        {
            batch = TelemetryArrow.Deserialize(payload);
        }
        catch (TelemetryFormatException ex)
        {
            return Reject(topicDeviceId, $"malformed batch: {ex.Message}");
        }

        if (!string.Equals(batch.DeviceId, topicDeviceId, StringComparison.Ordinal))
        {
            return Reject(topicDeviceId, $"batch names device '{batch.DeviceId}', not the topic's");
        }

        var accepted = await store.AddTelemetryAsync(topicDeviceId, kind, batch.Records, timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        var duplicates = batch.Records.Count - accepted;
        Interlocked.Add(ref _accepted, accepted);
        Interlocked.Add(ref _duplicates, duplicates);
        if (duplicates > 0)
        {
            LogDuplicates(topicDeviceId, duplicates);
        }

        return new TelemetryIngestResult(accepted, duplicates, null);
    }

    public Task<IReadOnlyList<DeviceTelemetrySummary>> SummarizeAsync(string? deviceId, CancellationToken cancellationToken)
    {
        if (deviceId is not null && DeviceIds.Describe(deviceId) is { } problem)
        {
            throw new RequestValidationException("device", problem);
        }

        return store.SummarizeAsync(deviceId, cancellationToken);
    }

    private TelemetryIngestResult Reject(string deviceId, string reason)
    {
        Interlocked.Increment(ref _rejected);
        LogRejected(deviceId, reason);
        return new TelemetryIngestResult(0, 0, reason);
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Warning, Message = "Rejected telemetry on device {DeviceId}'s topic: {Reason}")]
    private partial void LogRejected(string deviceId, string reason);

    [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "Ignored {Count} already-ingested telemetry report(s) from device {DeviceId}")]
    private partial void LogDuplicates(string deviceId, int count);
}

public sealed record TelemetryIngestResult(int Accepted, int Duplicates, string? RejectedBecause);
