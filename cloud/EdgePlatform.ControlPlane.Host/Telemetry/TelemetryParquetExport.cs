using EdgePlatform.Contracts;
using Parquet.Serialization;

namespace EdgePlatform.ControlPlane.Host.Telemetry;

/// <summary>
/// Writes telemetry query results as Apache Parquet, one flat row per raw report or per-minute
/// rollup, for data scientists' notebooks (pandas, polars, Spark, DuckDB read it as is).
/// </summary>
public static class TelemetryParquetExport
{
    public const string MediaType = "application/vnd.apache.parquet";

    public static async Task WriteAsync(TelemetryQueryResult result, Stream destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (result.Resolution == "raw")
        {
            await ParquetSerializer.SerializeAsync(result.Raw.Select(RawRow.From), destination, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await ParquetSerializer.SerializeAsync(result.Minutes.Select(MinuteRow.From), destination, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
    }

    // Column names follow the Arrow wire schema, so the same code reads both.
#pragma warning disable CA1812, CA1707 // Rows are instantiated for the serializer; snake_case names become column names.
    private sealed class RawRow
    {
        public string device_id { get; init; } = "";
        public string kind { get; init; } = "";
        public long sequence { get; init; }
        public DateTime timestamp { get; init; }
        public DateTime received_at { get; init; }
        public string? model_name { get; init; }
        public string? model_version { get; init; }
        public string? model_digest { get; init; }
        public long events_in { get; init; }
        public long events_scored { get; init; }
        public long errors { get; init; }
        public long dead_lettered { get; init; }
        public double latency_p50_ms { get; init; }
        public double latency_p95_ms { get; init; }
        public double latency_p99_ms { get; init; }
        public double latency_max_ms { get; init; }
        public double cpu_percent { get; init; }
        public long memory_bytes { get; init; }
        public long queue_depth { get; init; }
        public long reports_shed { get; init; }

        public static RawRow From(TelemetryPoint point) => new()
        {
            device_id = point.DeviceId,
            kind = point.Kind,
            sequence = point.Record.Sequence,
            timestamp = point.Record.Timestamp.UtcDateTime,
            received_at = point.ReceivedAt.UtcDateTime,
            model_name = point.Record.ModelName,
            model_version = point.Record.ModelVersion,
            model_digest = point.Record.ModelDigest,
            events_in = point.Record.EventsIn,
            events_scored = point.Record.EventsScored,
            errors = point.Record.Errors,
            dead_lettered = point.Record.DeadLettered,
            latency_p50_ms = point.Record.LatencyP50Ms,
            latency_p95_ms = point.Record.LatencyP95Ms,
            latency_p99_ms = point.Record.LatencyP99Ms,
            latency_max_ms = point.Record.LatencyMaxMs,
            cpu_percent = point.Record.CpuPercent,
            memory_bytes = point.Record.MemoryBytes,
            queue_depth = point.Record.QueueDepth,
            reports_shed = point.Record.ReportsShed,
        };
    }

    private sealed class MinuteRow
    {
        public string device_id { get; init; } = "";
        public DateTime minute { get; init; }
        public string? model_name { get; init; }
        public string? model_version { get; init; }
        public long reports { get; init; }
        public long events_in { get; init; }
        public long events_scored { get; init; }
        public long errors { get; init; }
        public long dead_lettered { get; init; }
        public double latency_p50_ms_max { get; init; }
        public double latency_p99_ms_max { get; init; }
        public double latency_max_ms { get; init; }
        public double cpu_percent_avg { get; init; }
        public long memory_bytes_max { get; init; }
        public long queue_depth_max { get; init; }
        public long reports_shed_max { get; init; }

        public static MinuteRow From(TelemetryMinute m) => new()
        {
            device_id = m.DeviceId,
            minute = m.Minute.UtcDateTime,
            model_name = m.ModelName,
            model_version = m.ModelVersion,
            reports = m.Reports,
            events_in = m.EventsIn,
            events_scored = m.EventsScored,
            errors = m.Errors,
            dead_lettered = m.DeadLettered,
            latency_p50_ms_max = m.LatencyP50MsMax,
            latency_p99_ms_max = m.LatencyP99MsMax,
            latency_max_ms = m.LatencyMaxMs,
            cpu_percent_avg = m.CpuPercentAvg,
            memory_bytes_max = m.MemoryBytesMax,
            queue_depth_max = m.QueueDepthMax,
            reports_shed_max = m.ReportsShedMax,
        };
    }
#pragma warning restore CA1812, CA1707
}
