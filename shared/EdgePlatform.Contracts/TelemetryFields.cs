using Apache.Arrow.Types;

namespace EdgePlatform.Contracts;

/// <summary>What a telemetry field holds: it fixes the field's Arrow type, its store column type and its export type.</summary>
public enum TelemetryValueKind
{
    /// <summary>A 64-bit integer: counters, sequences, sizes.</summary>
    Count,

    /// <summary>A 32-bit integer.</summary>
    SmallInteger,

    /// <summary>A double.</summary>
    Real,
    Timestamp,
    Text,
    Bytes,
    IntegerList,
    RealList,

    /// <summary>A list of doubles whose elements may be null.</summary>
    NullableRealList,
    TextList,
}

/// <summary>
/// One field of a telemetry record as the wire, the stores and the export see it. An optional
/// field was added after its schema's first release: written always, read as zero (or null, or
/// empty) when an older agent's batch lacks it.
/// </summary>
public abstract class TelemetryField<TRecord>
{
    private protected TelemetryField(string name, TelemetryValueKind kind, bool nullable, bool optional, string? storeColumn)
    {
        Name = name;
        Kind = kind;
        Nullable = nullable;
        Optional = optional;
        StoreColumn = storeColumn ?? name;
    }

    /// <summary>The Arrow column and the export column.</summary>
    public string Name { get; }

    /// <summary>The raw table's column, which differs from <see cref="Name"/> only where the first schema named it otherwise.</summary>
    public string StoreColumn { get; }

    public TelemetryValueKind Kind { get; }

    /// <summary>Whether a value may be null (a scalar) or an element may be null (<see cref="TelemetryValueKind.NullableRealList"/>).</summary>
    public bool Nullable { get; }

    public bool Optional { get; }

    public IArrowType ArrowType => Kind switch
    {
        TelemetryValueKind.Count => Int64Type.Default,
        TelemetryValueKind.SmallInteger => Int32Type.Default,
        TelemetryValueKind.Real => DoubleType.Default,
        TelemetryValueKind.Timestamp => TelemetryColumns.TimestampUtcMs,
        TelemetryValueKind.Text => StringType.Default,
        TelemetryValueKind.Bytes => BinaryType.Default,
        TelemetryValueKind.IntegerList => new ListType(new Apache.Arrow.Field("item", Int64Type.Default, false)),
        TelemetryValueKind.RealList => new ListType(new Apache.Arrow.Field("item", DoubleType.Default, false)),
        TelemetryValueKind.NullableRealList => new ListType(new Apache.Arrow.Field("item", DoubleType.Default, true)),
        TelemetryValueKind.TextList => new ListType(new Apache.Arrow.Field("item", StringType.Default, false)),
        _ => throw new InvalidOperationException($"no Arrow type for {Kind}"),
    };

    /// <summary>Whether the Arrow column itself may hold nulls: lists never do, whatever their elements.</summary>
    public bool ArrowNullable => Nullable && Kind is not TelemetryValueKind.NullableRealList;

    /// <summary>
    /// The record's value boxed: long, int, double, double?, DateTimeOffset, string,
    /// ReadOnlyMemory&lt;byte&gt; or IReadOnlyList of long, double, double? or string.
    /// </summary>
    public abstract object? GetValue(TRecord record);

    /// <summary>A copy of <paramref name="record"/> holding <paramref name="value"/> (of the type <see cref="GetValue"/> gives).</summary>
    public abstract TRecord WithValue(TRecord record, object? value);
}

/// <summary>A <see cref="TelemetryField{TRecord}"/> with its accessors typed.</summary>
public sealed class TelemetryField<TRecord, TValue> : TelemetryField<TRecord>
{
    internal TelemetryField(
        string name, TelemetryValueKind kind, bool nullable, bool optional, string? storeColumn, Func<TRecord, TValue> get, Func<TRecord, TValue, TRecord> with)
        : base(name, kind, nullable, optional, storeColumn)
    {
        Get = get;
        With = with;
    }

    public Func<TRecord, TValue> Get { get; }

    /// <summary>How a reader sets the field: the record is immutable, so it returns a copy.</summary>
    public Func<TRecord, TValue, TRecord> With { get; }

    public override object? GetValue(TRecord record) => Get(record);

    public override TRecord WithValue(TRecord record, object? value) => With(record, (TValue)value!);
}

/// <summary>One telemetry kind's fields in wire order, its schema id, and the record a reader starts from.</summary>
public sealed class TelemetrySchema<TRecord>
{
    internal TelemetrySchema(string schemaId, TRecord empty, IReadOnlyList<TelemetryField<TRecord>> fields)
    {
        SchemaId = schemaId;
        Empty = empty;
        Fields = fields;
    }

    public string SchemaId { get; }

    /// <summary>Every field zero, null or empty: what an absent optional field reads as.</summary>
    public TRecord Empty { get; }

    public IReadOnlyList<TelemetryField<TRecord>> Fields { get; }
}

/// <summary>
/// Each telemetry kind's fields, declared once: the Arrow codecs, the stores' raw tables and the
/// Parquet export iterate these. A field added here needs a store migration adding its column
/// (a test compares the migrated tables with these declarations) and, after the first release,
/// <c>optional: true</c> so older agents' batches still read.
/// </summary>
public static class TelemetrySchemas
{
    public static TelemetrySchema<TelemetryRecord> Health { get; } = new(
        TelemetryArrow.SchemaId,
        new TelemetryRecord(0, default, null, null, null, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        [
            For<TelemetryRecord>.Int64("sequence", r => r.Sequence, (r, v) => r with { Sequence = v }),
            For<TelemetryRecord>.Timestamp("timestamp", r => r.Timestamp, (r, v) => r with { Timestamp = v }),
            For<TelemetryRecord>.String("model_name", r => r.ModelName, (r, v) => r with { ModelName = v }, nullable: true),
            For<TelemetryRecord>.String("model_version", r => r.ModelVersion, (r, v) => r with { ModelVersion = v }, nullable: true),
            For<TelemetryRecord>.String("manifest_digest", r => r.ManifestDigest, (r, v) => r with { ManifestDigest = v }, nullable: true),
            For<TelemetryRecord>.Int64("events_in", r => r.EventsIn, (r, v) => r with { EventsIn = v }),
            For<TelemetryRecord>.Int64("events_scored", r => r.EventsScored, (r, v) => r with { EventsScored = v }),
            For<TelemetryRecord>.Int64("errors", r => r.Errors, (r, v) => r with { Errors = v }),
            For<TelemetryRecord>.Int64("dead_lettered", r => r.DeadLettered, (r, v) => r with { DeadLettered = v }),
            For<TelemetryRecord>.Double("latency_p50_ms", r => r.LatencyP50Ms, (r, v) => r with { LatencyP50Ms = v }),
            For<TelemetryRecord>.Double("latency_p99_ms", r => r.LatencyP99Ms, (r, v) => r with { LatencyP99Ms = v }),
            For<TelemetryRecord>.Double("latency_max_ms", r => r.LatencyMaxMs, (r, v) => r with { LatencyMaxMs = v }),
            For<TelemetryRecord>.Double("cpu_percent", r => r.CpuPercent, (r, v) => r with { CpuPercent = v }),
            For<TelemetryRecord>.Int64("memory_bytes", r => r.MemoryBytes, (r, v) => r with { MemoryBytes = v }),
            For<TelemetryRecord>.Double("latency_p95_ms", r => r.LatencyP95Ms, (r, v) => r with { LatencyP95Ms = v }, optional: true),
            For<TelemetryRecord>.Int64("queue_depth", r => r.QueueDepth, (r, v) => r with { QueueDepth = v }, optional: true),
            For<TelemetryRecord>.Int64("queue_bytes", r => r.QueueBytes, (r, v) => r with { QueueBytes = v }, optional: true),
            For<TelemetryRecord>.Int64("reports_shed", r => r.ReportsShed, (r, v) => r with { ReportsShed = v }, optional: true),
            For<TelemetryRecord>.Int64("disk_free_bytes", r => r.DiskFreeBytes, (r, v) => r with { DiskFreeBytes = v }, optional: true),
            For<TelemetryRecord>.Int64("disk_total_bytes", r => r.DiskTotalBytes, (r, v) => r with { DiskTotalBytes = v }, optional: true),
            For<TelemetryRecord>.String("agent_version", r => r.AgentVersion, (r, v) => r with { AgentVersion = v }, nullable: true, optional: true),
            For<TelemetryRecord>.String("attestation_state", r => r.AttestationState, (r, v) => r with { AttestationState = v }, nullable: true, optional: true),
            For<TelemetryRecord>.Int32("heartbeat_seconds", r => r.HeartbeatSeconds, (r, v) => r with { HeartbeatSeconds = v }, optional: true),
            For<TelemetryRecord>.Int64("events_dropped", r => r.EventsDropped, (r, v) => r with { EventsDropped = v }, optional: true),
            For<TelemetryRecord>.Int64("feedback_unmatched", r => r.FeedbackUnmatched, (r, v) => r with { FeedbackUnmatched = v }, optional: true),
            For<TelemetryRecord>.Int64("feedback_malformed", r => r.FeedbackMalformed, (r, v) => r with { FeedbackMalformed = v }, optional: true),
        ]);

    public static TelemetrySchema<PerfRecord> Perf { get; } = new(
        PerfArrow.SchemaId,
        new PerfRecord(0, default, 0, "", "", null, "", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ReadOnlyMemory<byte>.Empty, 0, 0, 0, []),
        [
            For<PerfRecord>.Int64("sequence", r => r.Sequence, (r, v) => r with { Sequence = v }),
            For<PerfRecord>.Timestamp("timestamp", r => r.Timestamp, (r, v) => r with { Timestamp = v }),
            For<PerfRecord>.Int64("interval_ms", r => r.IntervalMs, (r, v) => r with { IntervalMs = v }),
            For<PerfRecord>.String("model_name", r => r.ModelName, (r, v) => r with { ModelName = v! }),
            For<PerfRecord>.String("model_version", r => r.ModelVersion, (r, v) => r with { ModelVersion = v! }),
            For<PerfRecord>.String("manifest_digest", r => r.ManifestDigest, (r, v) => r with { ManifestDigest = v }, nullable: true),
            For<PerfRecord>.String("arm", r => r.Arm, (r, v) => r with { Arm = v! }),
            For<PerfRecord>.Int64("events_in", r => r.EventsIn, (r, v) => r with { EventsIn = v }),
            For<PerfRecord>.Int64("events_scored", r => r.EventsScored, (r, v) => r with { EventsScored = v }),
            For<PerfRecord>.Int64("errors", r => r.Errors, (r, v) => r with { Errors = v }),
            For<PerfRecord>.Int64("dead_lettered", r => r.DeadLettered, (r, v) => r with { DeadLettered = v }),
            For<PerfRecord>.Int64("dropped", r => r.Dropped, (r, v) => r with { Dropped = v }),
            For<PerfRecord>.Double("latency_p50_ms", r => r.LatencyP50Ms, (r, v) => r with { LatencyP50Ms = v }),
            For<PerfRecord>.Double("latency_p95_ms", r => r.LatencyP95Ms, (r, v) => r with { LatencyP95Ms = v }),
            For<PerfRecord>.Double("latency_p99_ms", r => r.LatencyP99Ms, (r, v) => r with { LatencyP99Ms = v }),
            For<PerfRecord>.Double("latency_max_ms", r => r.LatencyMaxMs, (r, v) => r with { LatencyMaxMs = v }),
            For<PerfRecord>.Double("latency_mean_ms", r => r.LatencyMeanMs, (r, v) => r with { LatencyMeanMs = v }),
            For<PerfRecord>.Binary("latency_histogram", r => r.LatencyHistogram, (r, v) => r with { LatencyHistogram = v }),
            For<PerfRecord>.Int64("batches", r => r.Batches, (r, v) => r with { Batches = v }),
            For<PerfRecord>.Double("batch_size_mean", r => r.BatchSizeMean, (r, v) => r with { BatchSizeMean = v }),
            For<PerfRecord>.Int64("batch_size_max", r => r.BatchSizeMax, (r, v) => r with { BatchSizeMax = v }),
            For<PerfRecord>.Int64List("batch_size_histogram", r => r.BatchSizeHistogram, (r, v) => r with { BatchSizeHistogram = v }),
        ]);

    public static TelemetrySchema<QualityRecord> Quality { get; } = new(
        QualityArrow.SchemaId,
        new QualityRecord(0, default, "", "", null, "", 0, 0, [], [], [], [], [], [], [], [], [], [], null, 0, 0, 0, 0, 0, 0, 0, 0),
        [
            For<QualityRecord>.Int64("sequence", r => r.Sequence, (r, v) => r with { Sequence = v }),
            For<QualityRecord>.Timestamp("timestamp", r => r.Timestamp, (r, v) => r with { Timestamp = v }),
            For<QualityRecord>.String("model_name", r => r.ModelName, (r, v) => r with { ModelName = v! }),
            For<QualityRecord>.String("model_version", r => r.ModelVersion, (r, v) => r with { ModelVersion = v! }),
            For<QualityRecord>.String("manifest_digest", r => r.ManifestDigest, (r, v) => r with { ManifestDigest = v }, nullable: true),
            For<QualityRecord>.String("arm", r => r.Arm, (r, v) => r with { Arm = v! }),
            For<QualityRecord>.Int64("scores", r => r.Scores, (r, v) => r with { Scores = v }),
            For<QualityRecord>.Double("score_mean", r => r.ScoreMean, (r, v) => r with { ScoreMean = v }),
            For<QualityRecord>.DoubleList("score_bin_edges", r => r.ScoreBinEdges, (r, v) => r with { ScoreBinEdges = v }),
            For<QualityRecord>.Int64List("score_histogram", r => r.ScoreHistogram, (r, v) => r with { ScoreHistogram = v }),
            For<QualityRecord>.StringList("feature_names", r => r.FeatureNames, (r, v) => r with { FeatureNames = v }),
            For<QualityRecord>.Int64List("feature_count", r => r.FeatureCount, (r, v) => r with { FeatureCount = v }),
            For<QualityRecord>.DoubleList("feature_mean", r => r.FeatureMean, (r, v) => r with { FeatureMean = v }),
            For<QualityRecord>.DoubleList("feature_variance", r => r.FeatureVariance, (r, v) => r with { FeatureVariance = v }),
            For<QualityRecord>.DoubleList("feature_min", r => r.FeatureMin, (r, v) => r with { FeatureMin = v }),
            For<QualityRecord>.DoubleList("feature_max", r => r.FeatureMax, (r, v) => r with { FeatureMax = v }),
            For<QualityRecord>.NullableDoubleList("feature_psi", r => r.FeaturePsi, (r, v) => r with { FeaturePsi = v }),
            For<QualityRecord>.Int64List("feature_decile_counts", r => r.FeatureDecileCounts, (r, v) => r with { FeatureDecileCounts = v }),
            For<QualityRecord>.NullableDouble("drift_psi_max", r => r.DriftPsiMax, (r, v) => r with { DriftPsiMax = v }),
            For<QualityRecord>.Int64("labelled", r => r.Labelled, (r, v) => r with { Labelled = v }),
            For<QualityRecord>.Int64("true_positives", r => r.TruePositives, (r, v) => r with { TruePositives = v }),
            For<QualityRecord>.Int64("false_positives", r => r.FalsePositives, (r, v) => r with { FalsePositives = v }),
            For<QualityRecord>.Int64("true_negatives", r => r.TrueNegatives, (r, v) => r with { TrueNegatives = v }),
            For<QualityRecord>.Int64("false_negatives", r => r.FalseNegatives, (r, v) => r with { FalseNegatives = v }),
            For<QualityRecord>.Double("error_sum", r => r.ErrorSum, (r, v) => r with { ErrorSum = v }),
            For<QualityRecord>.Double("absolute_error_sum", r => r.AbsoluteErrorSum, (r, v) => r with { AbsoluteErrorSum = v }),
            For<QualityRecord>.Double("squared_error_sum", r => r.SquaredErrorSum, (r, v) => r with { SquaredErrorSum = v }),
            For<QualityRecord>.Double("log_loss_sum", r => r.LogLossSum, (r, v) => r with { LogLossSum = v }, optional: true),
            For<QualityRecord>.Double("log_loss_squared_sum", r => r.LogLossSquaredSum, (r, v) => r with { LogLossSquaredSum = v }, optional: true),
            For<QualityRecord>.Int64List("labelled_positive_histogram", r => r.LabelledPositiveHistogram, (r, v) => r with { LabelledPositiveHistogram = v }, optional: true),
            For<QualityRecord>.Int64List("labelled_negative_histogram", r => r.LabelledNegativeHistogram, (r, v) => r with { LabelledNegativeHistogram = v }, optional: true),
            For<QualityRecord>.Int64("compared", r => r.Compared, (r, v) => r with { Compared = v }, optional: true),
            For<QualityRecord>.Int64("agreements", r => r.Agreements, (r, v) => r with { Agreements = v }, optional: true),
            For<QualityRecord>.Int64("paired", r => r.Paired, (r, v) => r with { Paired = v }, optional: true),
            For<QualityRecord>.Double("paired_difference_sum", r => r.PairedDifferenceSum, (r, v) => r with { PairedDifferenceSum = v }, optional: true),
            For<QualityRecord>.Double("paired_difference_squared_sum", r => r.PairedDifferenceSquaredSum, (r, v) => r with { PairedDifferenceSquaredSum = v }, optional: true),
        ]);

    /// <summary>Field factories of one record type, so each declaration line names its type once.</summary>
    private static class For<T>
    {
        public static TelemetryField<T> Int64(string name, Func<T, long> get, Func<T, long, T> with, bool optional = false) =>
            new TelemetryField<T, long>(name, TelemetryValueKind.Count, false, optional, null, get, with);

        public static TelemetryField<T> Int32(string name, Func<T, int> get, Func<T, int, T> with, bool optional = false) =>
            new TelemetryField<T, int>(name, TelemetryValueKind.SmallInteger, false, optional, null, get, with);

        public static TelemetryField<T> Double(string name, Func<T, double> get, Func<T, double, T> with, bool optional = false) =>
            new TelemetryField<T, double>(name, TelemetryValueKind.Real, false, optional, null, get, with);

        public static TelemetryField<T> NullableDouble(string name, Func<T, double?> get, Func<T, double?, T> with, bool optional = false) =>
            new TelemetryField<T, double?>(name, TelemetryValueKind.Real, true, optional, null, get, with);

        /// <summary>The first schema stored the report's time as <c>ts</c>; every kind's table kept the name.</summary>
        public static TelemetryField<T> Timestamp(string name, Func<T, DateTimeOffset> get, Func<T, DateTimeOffset, T> with) =>
            new TelemetryField<T, DateTimeOffset>(name, TelemetryValueKind.Timestamp, false, false, "ts", get, with);

        public static TelemetryField<T> String(string name, Func<T, string?> get, Func<T, string?, T> with, bool nullable = false, bool optional = false) =>
            new TelemetryField<T, string?>(name, TelemetryValueKind.Text, nullable, optional, null, get, with);

        public static TelemetryField<T> Binary(string name, Func<T, ReadOnlyMemory<byte>> get, Func<T, ReadOnlyMemory<byte>, T> with) =>
            new TelemetryField<T, ReadOnlyMemory<byte>>(name, TelemetryValueKind.Bytes, false, false, null, get, with);

        public static TelemetryField<T> Int64List(string name, Func<T, IReadOnlyList<long>> get, Func<T, IReadOnlyList<long>, T> with, bool optional = false) =>
            new TelemetryField<T, IReadOnlyList<long>>(name, TelemetryValueKind.IntegerList, false, optional, null, get, with);

        public static TelemetryField<T> DoubleList(string name, Func<T, IReadOnlyList<double>> get, Func<T, IReadOnlyList<double>, T> with) =>
            new TelemetryField<T, IReadOnlyList<double>>(name, TelemetryValueKind.RealList, false, false, null, get, with);

        public static TelemetryField<T> NullableDoubleList(string name, Func<T, IReadOnlyList<double?>> get, Func<T, IReadOnlyList<double?>, T> with) =>
            new TelemetryField<T, IReadOnlyList<double?>>(name, TelemetryValueKind.NullableRealList, true, false, null, get, with);

        public static TelemetryField<T> StringList(string name, Func<T, IReadOnlyList<string>> get, Func<T, IReadOnlyList<string>, T> with) =>
            new TelemetryField<T, IReadOnlyList<string>>(name, TelemetryValueKind.TextList, false, false, null, get, with);
    }
}
