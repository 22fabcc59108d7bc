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
        if (result.Kind == TelemetryKinds.Perf)
        {
            if (result.Resolution == "raw")
            {
                await ParquetSerializer.SerializeAsync(result.Perf.Select(PerfRow.From), destination, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await ParquetSerializer.SerializeAsync(result.PerfMinutes.Select(PerfMinuteRow.From), destination, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
        }
        else if (result.Kind == TelemetryKinds.Quality && result.Resolution == "raw")
        {
            await ParquetSerializer.SerializeAsync(result.Quality.Select(QualityRow.From), destination, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        else if (result.Kind == TelemetryKinds.Quality)
        {
            await ParquetSerializer.SerializeAsync(result.QualityMinutes.Select(QualityMinuteRow.From), destination, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        else if (result.Resolution == "raw")
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
        public string? manifest_digest { get; init; }
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
            manifest_digest = point.Record.ManifestDigest,
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

    private sealed class PerfRow
    {
        public string device_id { get; init; } = "";
        public long sequence { get; init; }
        public DateTime timestamp { get; init; }
        public long interval_ms { get; init; }
        public string model_name { get; init; } = "";
        public string model_version { get; init; } = "";
        public string? manifest_digest { get; init; }
        public string arm { get; init; } = "";
        public long events_in { get; init; }
        public long events_scored { get; init; }
        public long errors { get; init; }
        public long dead_lettered { get; init; }
        public long dropped { get; init; }
        public double latency_p50_ms { get; init; }
        public double latency_p95_ms { get; init; }
        public double latency_p99_ms { get; init; }
        public double latency_max_ms { get; init; }
        public double latency_mean_ms { get; init; }
        public byte[] latency_histogram { get; init; } = [];
        public long batches { get; init; }
        public double batch_size_mean { get; init; }
        public long batch_size_max { get; init; }
        public long[] batch_size_histogram { get; init; } = [];

        public static PerfRow From(PerfPoint point) => new()
        {
            device_id = point.DeviceId,
            sequence = point.Record.Sequence,
            timestamp = point.Record.Timestamp.UtcDateTime,
            interval_ms = point.Record.IntervalMs,
            model_name = point.Record.ModelName,
            model_version = point.Record.ModelVersion,
            manifest_digest = point.Record.ManifestDigest,
            arm = point.Record.Arm,
            events_in = point.Record.EventsIn,
            events_scored = point.Record.EventsScored,
            errors = point.Record.Errors,
            dead_lettered = point.Record.DeadLettered,
            dropped = point.Record.Dropped,
            latency_p50_ms = point.Record.LatencyP50Ms,
            latency_p95_ms = point.Record.LatencyP95Ms,
            latency_p99_ms = point.Record.LatencyP99Ms,
            latency_max_ms = point.Record.LatencyMaxMs,
            latency_mean_ms = point.Record.LatencyMeanMs,
            latency_histogram = point.Record.LatencyHistogram.ToArray(),
            batches = point.Record.Batches,
            batch_size_mean = point.Record.BatchSizeMean,
            batch_size_max = point.Record.BatchSizeMax,
            batch_size_histogram = [.. point.Record.BatchSizeHistogram],
        };
    }

    private sealed class PerfMinuteRow
    {
        public DateTime minute { get; init; }
        public string model_name { get; init; } = "";
        public string model_version { get; init; } = "";
        public string arm { get; init; } = "";
        public long devices { get; init; }
        public long records { get; init; }
        public long events_in { get; init; }
        public long events_scored { get; init; }
        public long errors { get; init; }
        public long dead_lettered { get; init; }
        public long dropped { get; init; }
        public long batches { get; init; }
        public long latency_count { get; init; }
        public double latency_p50_ms { get; init; }
        public double latency_p95_ms { get; init; }
        public double latency_p99_ms { get; init; }
        public double latency_max_ms { get; init; }

        public static PerfMinuteRow From(PerfMinute m) => new()
        {
            minute = m.Minute.UtcDateTime,
            model_name = m.ModelName,
            model_version = m.ModelVersion,
            arm = m.Arm,
            devices = m.Devices,
            records = m.Records,
            events_in = m.EventsIn,
            events_scored = m.EventsScored,
            errors = m.Errors,
            dead_lettered = m.DeadLettered,
            dropped = m.Dropped,
            batches = m.Batches,
            latency_count = m.LatencyCount,
            latency_p50_ms = m.LatencyP50Ms,
            latency_p95_ms = m.LatencyP95Ms,
            latency_p99_ms = m.LatencyP99Ms,
            latency_max_ms = m.LatencyMaxMs,
        };
    }

    // Per-feature lists stay lists (Parquet repeated columns), parallel to feature_names.
    private sealed class QualityRow
    {
        public string device_id { get; init; } = "";
        public long sequence { get; init; }
        public DateTime timestamp { get; init; }
        public string model_name { get; init; } = "";
        public string model_version { get; init; } = "";
        public string? manifest_digest { get; init; }
        public string arm { get; init; } = "";
        public long scores { get; init; }
        public double score_mean { get; init; }
        public double[] score_bin_edges { get; init; } = [];
        public long[] score_histogram { get; init; } = [];
        public string[] feature_names { get; init; } = [];
        public long[] feature_count { get; init; } = [];
        public double[] feature_mean { get; init; } = [];
        public double[] feature_variance { get; init; } = [];
        public double[] feature_min { get; init; } = [];
        public double[] feature_max { get; init; } = [];
        public double?[] feature_psi { get; init; } = [];
        public double? drift_psi_max { get; init; }
        public long labelled { get; init; }
        public long true_positives { get; init; }
        public long false_positives { get; init; }
        public long true_negatives { get; init; }
        public long false_negatives { get; init; }
        public double error_sum { get; init; }
        public double absolute_error_sum { get; init; }
        public double squared_error_sum { get; init; }
        public double log_loss_sum { get; init; }
        public double log_loss_squared_sum { get; init; }
        public long[] labelled_positive_histogram { get; init; } = [];
        public long[] labelled_negative_histogram { get; init; } = [];
        public long compared { get; init; }
        public long agreements { get; init; }
        public long paired { get; init; }
        public double paired_difference_sum { get; init; }
        public double paired_difference_squared_sum { get; init; }

        public static QualityRow From(QualityPoint point) => new()
        {
            device_id = point.DeviceId,
            sequence = point.Record.Sequence,
            timestamp = point.Record.Timestamp.UtcDateTime,
            model_name = point.Record.ModelName,
            model_version = point.Record.ModelVersion,
            manifest_digest = point.Record.ManifestDigest,
            arm = point.Record.Arm,
            scores = point.Record.Scores,
            score_mean = point.Record.ScoreMean,
            score_bin_edges = [.. point.Record.ScoreBinEdges],
            score_histogram = [.. point.Record.ScoreHistogram],
            feature_names = [.. point.Record.FeatureNames],
            feature_count = [.. point.Record.FeatureCount],
            feature_mean = [.. point.Record.FeatureMean],
            feature_variance = [.. point.Record.FeatureVariance],
            feature_min = [.. point.Record.FeatureMin],
            feature_max = [.. point.Record.FeatureMax],
            feature_psi = [.. point.Record.FeaturePsi],
            drift_psi_max = point.Record.DriftPsiMax,
            labelled = point.Record.Labelled,
            true_positives = point.Record.TruePositives,
            false_positives = point.Record.FalsePositives,
            true_negatives = point.Record.TrueNegatives,
            false_negatives = point.Record.FalseNegatives,
            error_sum = point.Record.ErrorSum,
            absolute_error_sum = point.Record.AbsoluteErrorSum,
            squared_error_sum = point.Record.SquaredErrorSum,
            log_loss_sum = point.Record.LogLossSum,
            log_loss_squared_sum = point.Record.LogLossSquaredSum,
            labelled_positive_histogram = [.. point.Record.LabelledPositiveHistogram],
            labelled_negative_histogram = [.. point.Record.LabelledNegativeHistogram],
            compared = point.Record.Compared,
            agreements = point.Record.Agreements,
            paired = point.Record.Paired,
            paired_difference_sum = point.Record.PairedDifferenceSum,
            paired_difference_squared_sum = point.Record.PairedDifferenceSquaredSum,
        };
    }

    private sealed class QualityMinuteRow
    {
        public DateTime minute { get; init; }
        public string model_name { get; init; } = "";
        public string model_version { get; init; } = "";
        public string arm { get; init; } = "";
        public long devices { get; init; }
        public long records { get; init; }
        public long scores { get; init; }
        public double score_mean { get; init; }
        public double[] score_bin_edges { get; init; } = [];
        public long[] score_histogram { get; init; } = [];
        public string[] feature_names { get; init; } = [];
        public long[] feature_count { get; init; } = [];
        public double[] feature_mean { get; init; } = [];
        public double[] feature_variance { get; init; } = [];
        public double[] feature_min { get; init; } = [];
        public double[] feature_max { get; init; } = [];
        public double?[] feature_psi_max { get; init; } = [];
        public double? drift_psi_max { get; init; }
        public long labelled { get; init; }
        public long true_positives { get; init; }
        public long false_positives { get; init; }
        public long true_negatives { get; init; }
        public long false_negatives { get; init; }
        public double error_sum { get; init; }
        public double absolute_error_sum { get; init; }
        public double squared_error_sum { get; init; }
        public double log_loss_sum { get; init; }
        public double log_loss_squared_sum { get; init; }
        public long[] labelled_positive_histogram { get; init; } = [];
        public long[] labelled_negative_histogram { get; init; } = [];
        public long compared { get; init; }
        public long agreements { get; init; }
        public long paired { get; init; }
        public double paired_difference_sum { get; init; }
        public double paired_difference_squared_sum { get; init; }

        public static QualityMinuteRow From(QualityMinute m) => new()
        {
            minute = m.Minute.UtcDateTime,
            model_name = m.ModelName,
            model_version = m.ModelVersion,
            arm = m.Arm,
            devices = m.Devices,
            records = m.Records,
            scores = m.Scores,
            score_mean = m.ScoreMean,
            score_bin_edges = [.. m.ScoreBinEdges],
            score_histogram = [.. m.ScoreHistogram],
            feature_names = [.. m.Features.Select(f => f.Name)],
            feature_count = [.. m.Features.Select(f => f.Count)],
            feature_mean = [.. m.Features.Select(f => f.Mean)],
            feature_variance = [.. m.Features.Select(f => f.Variance)],
            feature_min = [.. m.Features.Select(f => f.Min)],
            feature_max = [.. m.Features.Select(f => f.Max)],
            feature_psi_max = [.. m.Features.Select(f => f.PsiMax)],
            drift_psi_max = m.DriftPsiMax,
            labelled = m.Labelled,
            true_positives = m.TruePositives,
            false_positives = m.FalsePositives,
            true_negatives = m.TrueNegatives,
            false_negatives = m.FalseNegatives,
            error_sum = m.ErrorSum,
            absolute_error_sum = m.AbsoluteErrorSum,
            squared_error_sum = m.SquaredErrorSum,
            log_loss_sum = m.LogLossSum,
            log_loss_squared_sum = m.LogLossSquaredSum,
            labelled_positive_histogram = [.. m.LabelledPositiveHistogram],
            labelled_negative_histogram = [.. m.LabelledNegativeHistogram],
            compared = m.Compared,
            agreements = m.Agreements,
            paired = m.Paired,
            paired_difference_sum = m.PairedDifferenceSum,
            paired_difference_squared_sum = m.PairedDifferenceSquaredSum,
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
