using EdgePlatform.Contracts;
using Parquet.Schema;
using Parquet.Serialization;

namespace EdgePlatform.ControlPlane.Host.Telemetry;

/// <summary>
/// Writes telemetry query results as Apache Parquet, one flat row per raw report or per-minute
/// rollup, for data scientists' notebooks (pandas, polars, Spark, DuckDB read it as is). A raw
/// row has one column per field of its kind's <see cref="TelemetrySchemas"/> declaration, named
/// as on the wire, after the columns saying where the record came from; a field declared there
/// is exported without a change here. Minute rollups aggregate differently, so they list theirs.
/// </summary>
public static class TelemetryParquetExport
{
    public const string MediaType = "application/vnd.apache.parquet";

    private static readonly RawColumns<TelemetryPoint, TelemetryRecord> Health = new(
        TelemetrySchemas.Health,
        p => p.Record,
        [
            (new DataField<string>("device_id", false), p => p.DeviceId),
            (new DataField<string>("kind", false), p => p.Kind),
            (new DateTimeDataField("received_at", DateTimeFormat.Impala, isNullable: false), p => p.ReceivedAt.UtcDateTime),
        ]);

    private static readonly RawColumns<PerfPoint, PerfRecord> Perf = new(
        TelemetrySchemas.Perf, p => p.Record, [(new DataField<string>("device_id", false), p => p.DeviceId)]);

    private static readonly RawColumns<QualityPoint, QualityRecord> Quality = new(
        TelemetrySchemas.Quality, p => p.Record, [(new DataField<string>("device_id", false), p => p.DeviceId)]);

    /// <summary>The raw export's columns of each kind, in file order.</summary>
    public static ParquetSchema RawSchema(string kind) => kind switch
    {
        TelemetryKinds.Perf => Perf.Schema,
        TelemetryKinds.Quality => Quality.Schema,
        _ => Health.Schema,
    };

    public static async Task WriteAsync(TelemetryQueryResult result, Stream destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(result);
        var raw = result.Resolution == "raw";
        var task = (result.Kind, raw) switch
        {
            (TelemetryKinds.Perf, true) => Perf.WriteAsync(result.Perf, destination, cancellationToken),
            (TelemetryKinds.Perf, false) => ParquetSerializer.SerializeAsync(result.PerfMinutes.Select(PerfMinuteRow.From), destination, cancellationToken: cancellationToken),
            (TelemetryKinds.Quality, true) => Quality.WriteAsync(result.Quality, destination, cancellationToken),
            (TelemetryKinds.Quality, false) => ParquetSerializer.SerializeAsync(result.QualityMinutes.Select(QualityMinuteRow.From), destination, cancellationToken: cancellationToken),
            (_, true) => Health.WriteAsync(result.Raw, destination, cancellationToken),
            (_, false) => ParquetSerializer.SerializeAsync(result.Minutes.Select(MinuteRow.From), destination, cancellationToken: cancellationToken),
        };
        await task.ConfigureAwait(false);
    }

    /// <summary>
    /// The Parquet column of a declared field. Scalars are required unless the declaration lets
    /// them be null; lists are required lists whose elements are null only where declared so.
    /// </summary>
    public static Field ParquetField<TRecord>(TelemetryField<TRecord> field)
    {
        ArgumentNullException.ThrowIfNull(field);
        return field.Kind switch
        {
            TelemetryValueKind.Count => new DataField<long>(field.Name, field.Nullable),
            TelemetryValueKind.SmallInteger => new DataField<int>(field.Name, field.Nullable),
            TelemetryValueKind.Real => new DataField<double>(field.Name, field.Nullable),
            TelemetryValueKind.Timestamp => new DateTimeDataField(field.Name, DateTimeFormat.Impala, isNullable: field.Nullable),
            TelemetryValueKind.Text => new DataField<string>(field.Name, field.Nullable),
            TelemetryValueKind.Bytes => new DataField<byte[]>(field.Name, field.Nullable),
            TelemetryValueKind.IntegerList => new ListField(field.Name, new DataField<long>(ListField.ElementName, false)),
            TelemetryValueKind.RealList => new ListField(field.Name, new DataField<double>(ListField.ElementName, false)),
            TelemetryValueKind.NullableRealList => new ListField(field.Name, new DataField<double>(ListField.ElementName, true)),
            TelemetryValueKind.TextList => new ListField(field.Name, new DataField<string>(ListField.ElementName, false)),
            _ => throw new InvalidOperationException($"no Parquet type for {field.Kind}"),
        };
    }

    /// <summary>A declared field's value as the untyped serializer takes it for <see cref="ParquetField"/>'s column.</summary>
    private static object? ParquetValue(object? value) => value switch
    {
        DateTimeOffset time => time.UtcDateTime,
        IReadOnlyList<long> longs => longs.ToArray(),
        IReadOnlyList<double> doubles => doubles.ToArray(),
        IReadOnlyList<double?> doubles => NoNullElements(doubles),
        // The serializer takes a list's strings only as the memory it reads them into.
        IReadOnlyList<string> strings => strings.Select(text => text.AsMemory()).ToArray(),
        _ => value,
    };

    /// <summary>
    /// Null elements as NaN: Parquet.Net 6.1 leaves a list's null elements out when it writes
    /// them, which would shift every later element against its feature in <c>feature_names</c>.
    /// </summary>
    private static double?[] NoNullElements(IEnumerable<double?> values) => [.. values.Select(v => v ?? double.NaN)];

    /// <summary>One kind's raw columns: the export's own (where the record came from) and then every declared field.</summary>
    private sealed class RawColumns<TPoint, TRecord>
    {
        private readonly TelemetrySchema<TRecord> declared;
        private readonly Func<TPoint, TRecord> record;
        private readonly IReadOnlyList<(Field Field, Func<TPoint, object> Value)> leading;

        public RawColumns(TelemetrySchema<TRecord> declared, Func<TPoint, TRecord> record, IReadOnlyList<(Field Field, Func<TPoint, object> Value)> leading)
        {
            this.declared = declared;
            this.record = record;
            this.leading = leading;
            Schema = new ParquetSchema([.. leading.Select(c => c.Field), .. declared.Fields.Select(ParquetField)]);
        }

        public ParquetSchema Schema { get; }

        public Task WriteAsync(IReadOnlyList<TPoint> points, Stream destination, CancellationToken cancellationToken) =>
            ParquetSerializer.SerializeUntypedAsync([.. points.Select(Row)], Schema, destination, cancellationToken: cancellationToken);

        private IDictionary<string, object?> Row(TPoint point)
        {
            var row = new Dictionary<string, object?>(leading.Count + declared.Fields.Count, StringComparer.Ordinal);
            foreach (var (field, value) in leading)
            {
                row[field.Name] = value(point);
            }

            var values = record(point);
            foreach (var field in declared.Fields)
            {
                row[field.Name] = ParquetValue(field.GetValue(values));
            }

            return row;
        }
    }

#pragma warning disable CA1812, CA1707 // Rows are instantiated for the serializer; snake_case names become column names.
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
            feature_psi_max = NoNullElements(m.Features.Select(f => f.PsiMax)),
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
