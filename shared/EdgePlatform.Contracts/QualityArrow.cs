using Apache.Arrow;
using Apache.Arrow.Types;

namespace EdgePlatform.Contracts;

/// <summary>
/// Arrow IPC stream encoding of <see cref="QualityRecord"/> batches, published on
/// <c>devices/{id}/telemetry/quality</c>. The per-feature columns are lists running parallel to
/// <c>feature_names</c>; a batch whose lists of one row differ in length is refused.
/// </summary>
public static class QualityArrow
{
    public const string SchemaId = "edgeplatform.telemetry.quality.v1";

    private static readonly ColumnSpec[] Columns =
    [
        new("sequence", Int64Type.Default, false),
        new("timestamp", TelemetryColumns.TimestampUtcMs, false),
        new("model_name", StringType.Default, false),
        new("model_version", StringType.Default, false),
        new("manifest_digest", StringType.Default, true),
        new("arm", StringType.Default, false),
        new("scores", Int64Type.Default, false),
        new("score_mean", DoubleType.Default, false),
        ColumnSpec.List("score_bin_edges", DoubleType.Default),
        ColumnSpec.List("score_histogram", Int64Type.Default),
        ColumnSpec.List("feature_names", StringType.Default),
        ColumnSpec.List("feature_count", Int64Type.Default),
        ColumnSpec.List("feature_mean", DoubleType.Default),
        ColumnSpec.List("feature_variance", DoubleType.Default),
        ColumnSpec.List("feature_min", DoubleType.Default),
        ColumnSpec.List("feature_max", DoubleType.Default),
        ColumnSpec.List("feature_psi", DoubleType.Default, itemNullable: true),
        ColumnSpec.List("feature_decile_counts", Int64Type.Default),
        new("drift_psi_max", DoubleType.Default, true),
        new("labelled", Int64Type.Default, false),
        new("true_positives", Int64Type.Default, false),
        new("false_positives", Int64Type.Default, false),
        new("true_negatives", Int64Type.Default, false),
        new("false_negatives", Int64Type.Default, false),
        new("error_sum", DoubleType.Default, false),
        new("absolute_error_sum", DoubleType.Default, false),
        new("squared_error_sum", DoubleType.Default, false),
        new("log_loss_sum", DoubleType.Default, false, Optional: true),
        new("log_loss_squared_sum", DoubleType.Default, false, Optional: true),
        ColumnSpec.List("labelled_positive_histogram", Int64Type.Default, optional: true),
        ColumnSpec.List("labelled_negative_histogram", Int64Type.Default, optional: true),
        new("compared", Int64Type.Default, false, Optional: true),
        new("agreements", Int64Type.Default, false, Optional: true),
        new("paired", Int64Type.Default, false, Optional: true),
        new("paired_difference_sum", DoubleType.Default, false, Optional: true),
        new("paired_difference_squared_sum", DoubleType.Default, false, Optional: true),
    ];

    public static Schema CreateSchema(string deviceId) => TelemetryColumns.CreateSchema(Columns, SchemaId, deviceId);

    /// <exception cref="ArgumentException">A record's lists do not run parallel (<see cref="QualityRecord.ValidateShape"/>).</exception>
    public static byte[] Serialize(string deviceId, IReadOnlyList<QualityRecord> records)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        ArgumentNullException.ThrowIfNull(records);
        foreach (var record in records)
        {
            record.ValidateShape();
        }

        IArrowArray[] arrays =
        [
            TelemetryColumns.Int64(records, r => r.Sequence),
            TelemetryColumns.Timestamp(records, r => r.Timestamp),
            TelemetryColumns.String(records, r => r.ModelName),
            TelemetryColumns.String(records, r => r.ModelVersion),
            TelemetryColumns.String(records, r => r.ManifestDigest),
            TelemetryColumns.String(records, r => r.Arm),
            TelemetryColumns.Int64(records, r => r.Scores),
            TelemetryColumns.Double(records, r => r.ScoreMean),
            TelemetryColumns.DoubleList(records, r => r.ScoreBinEdges),
            TelemetryColumns.Int64List(records, r => r.ScoreHistogram),
            TelemetryColumns.StringList(records, r => r.FeatureNames),
            TelemetryColumns.Int64List(records, r => r.FeatureCount),
            TelemetryColumns.DoubleList(records, r => r.FeatureMean),
            TelemetryColumns.DoubleList(records, r => r.FeatureVariance),
            TelemetryColumns.DoubleList(records, r => r.FeatureMin),
            TelemetryColumns.DoubleList(records, r => r.FeatureMax),
            TelemetryColumns.NullableDoubleList(records, r => r.FeaturePsi),
            TelemetryColumns.Int64List(records, r => r.FeatureDecileCounts),
            TelemetryColumns.NullableDouble(records, r => r.DriftPsiMax),
            TelemetryColumns.Int64(records, r => r.Labelled),
            TelemetryColumns.Int64(records, r => r.TruePositives),
            TelemetryColumns.Int64(records, r => r.FalsePositives),
            TelemetryColumns.Int64(records, r => r.TrueNegatives),
            TelemetryColumns.Int64(records, r => r.FalseNegatives),
            TelemetryColumns.Double(records, r => r.ErrorSum),
            TelemetryColumns.Double(records, r => r.AbsoluteErrorSum),
            TelemetryColumns.Double(records, r => r.SquaredErrorSum),
            TelemetryColumns.Double(records, r => r.LogLossSum),
            TelemetryColumns.Double(records, r => r.LogLossSquaredSum),
            TelemetryColumns.Int64List(records, r => r.LabelledPositiveHistogram),
            TelemetryColumns.Int64List(records, r => r.LabelledNegativeHistogram),
            TelemetryColumns.Int64(records, r => r.Compared),
            TelemetryColumns.Int64(records, r => r.Agreements),
            TelemetryColumns.Int64(records, r => r.Paired),
            TelemetryColumns.Double(records, r => r.PairedDifferenceSum),
            TelemetryColumns.Double(records, r => r.PairedDifferenceSquaredSum),
        ];

        return TelemetryColumns.Write(CreateSchema(deviceId), arrays, records.Count);
    }

    /// <summary>
    /// Decodes a quality stream. Throws <see cref="TelemetryFormatException"/> naming the column and
    /// the problem when the payload is not an Arrow stream of this schema or its lists do not run parallel.
    /// </summary>
    public static QualityBatch Deserialize(ReadOnlyMemory<byte> payload)
    {
        var (deviceId, records) = TelemetryColumns.Read<QualityRecord>(payload, SchemaId, Columns, ReadBatch);
        return new QualityBatch(deviceId, records);
    }

    private static void ReadBatch(RecordBatch batch, List<QualityRecord> records)
    {
        var sequence = TelemetryColumns.Column<Int64Array>(batch, "sequence");
        var timestamp = TelemetryColumns.Column<TimestampArray>(batch, "timestamp");
        var modelName = TelemetryColumns.Column<StringArray>(batch, "model_name");
        var modelVersion = TelemetryColumns.Column<StringArray>(batch, "model_version");
        var manifestDigest = TelemetryColumns.Column<StringArray>(batch, "manifest_digest");
        var arm = TelemetryColumns.Column<StringArray>(batch, "arm");
        var scores = TelemetryColumns.Column<Int64Array>(batch, "scores");
        var scoreMean = TelemetryColumns.Column<DoubleArray>(batch, "score_mean");
        var labelled = TelemetryColumns.Column<Int64Array>(batch, "labelled");
        var truePositives = TelemetryColumns.Column<Int64Array>(batch, "true_positives");
        var falsePositives = TelemetryColumns.Column<Int64Array>(batch, "false_positives");
        var trueNegatives = TelemetryColumns.Column<Int64Array>(batch, "true_negatives");
        var falseNegatives = TelemetryColumns.Column<Int64Array>(batch, "false_negatives");
        var errorSum = TelemetryColumns.Column<DoubleArray>(batch, "error_sum");
        var absoluteErrorSum = TelemetryColumns.Column<DoubleArray>(batch, "absolute_error_sum");
        var squaredErrorSum = TelemetryColumns.Column<DoubleArray>(batch, "squared_error_sum");
        var psiMax = TelemetryColumns.Column<DoubleArray>(batch, "drift_psi_max");

        // Columns added after the first release: a batch from an older agent lacks them.
        var logLossSum = TelemetryColumns.Optional<DoubleArray>(batch, "log_loss_sum");
        var logLossSquaredSum = TelemetryColumns.Optional<DoubleArray>(batch, "log_loss_squared_sum");
        var compared = TelemetryColumns.Optional<Int64Array>(batch, "compared");
        var agreements = TelemetryColumns.Optional<Int64Array>(batch, "agreements");
        var paired = TelemetryColumns.Optional<Int64Array>(batch, "paired");
        var pairedDifferenceSum = TelemetryColumns.Optional<DoubleArray>(batch, "paired_difference_sum");
        var pairedDifferenceSquaredSum = TelemetryColumns.Optional<DoubleArray>(batch, "paired_difference_squared_sum");
        TelemetryColumns.ValidateOffsets(modelName, "model_name");
        TelemetryColumns.ValidateOffsets(modelVersion, "model_version");
        TelemetryColumns.ValidateOffsets(manifestDigest, "manifest_digest");
        TelemetryColumns.ValidateOffsets(arm, "arm");
        var lists = new Lists(batch);

        for (var i = 0; i < batch.Length; i++)
        {
            var record = new QualityRecord(
                TelemetryColumns.Required(sequence.GetValue(i), "sequence"),
                timestamp.GetTimestamp(i) ?? throw new TelemetryFormatException("column 'timestamp' has a null"),
                TelemetryColumns.RequiredString(modelName, i, "model_name"),
                TelemetryColumns.RequiredString(modelVersion, i, "model_version"),
                manifestDigest.GetString(i),
                TelemetryColumns.RequiredString(arm, i, "arm"),
                TelemetryColumns.Required(scores.GetValue(i), "scores"),
                TelemetryColumns.Required(scoreMean.GetValue(i), "score_mean"),
                TelemetryColumns.DoubleItems(lists.Get("score_bin_edges", i), i, "score_bin_edges"),
                TelemetryColumns.Int64Items(lists.Get("score_histogram", i), i, "score_histogram"),
                TelemetryColumns.StringItems(lists.Get("feature_names", i), i, "feature_names"),
                TelemetryColumns.Int64Items(lists.Get("feature_count", i), i, "feature_count"),
                TelemetryColumns.DoubleItems(lists.Get("feature_mean", i), i, "feature_mean"),
                TelemetryColumns.DoubleItems(lists.Get("feature_variance", i), i, "feature_variance"),
                TelemetryColumns.DoubleItems(lists.Get("feature_min", i), i, "feature_min"),
                TelemetryColumns.DoubleItems(lists.Get("feature_max", i), i, "feature_max"),
                TelemetryColumns.NullableDoubleItems(lists.Get("feature_psi", i), i, "feature_psi"),
                TelemetryColumns.Int64Items(lists.Get("feature_decile_counts", i), i, "feature_decile_counts"),
                psiMax.GetValue(i),
                TelemetryColumns.Required(labelled.GetValue(i), "labelled"),
                TelemetryColumns.Required(truePositives.GetValue(i), "true_positives"),
                TelemetryColumns.Required(falsePositives.GetValue(i), "false_positives"),
                TelemetryColumns.Required(trueNegatives.GetValue(i), "true_negatives"),
                TelemetryColumns.Required(falseNegatives.GetValue(i), "false_negatives"),
                TelemetryColumns.Required(errorSum.GetValue(i), "error_sum"),
                TelemetryColumns.Required(absoluteErrorSum.GetValue(i), "absolute_error_sum"),
                TelemetryColumns.Required(squaredErrorSum.GetValue(i), "squared_error_sum"),
                OptionalValue(logLossSum, i, "log_loss_sum"),
                OptionalValue(logLossSquaredSum, i, "log_loss_squared_sum"),
                lists.GetOptional("labelled_positive_histogram", i) is { } positives ? TelemetryColumns.Int64Items(positives, i, "labelled_positive_histogram") : [],
                lists.GetOptional("labelled_negative_histogram", i) is { } negatives ? TelemetryColumns.Int64Items(negatives, i, "labelled_negative_histogram") : [],
                OptionalValue(compared, i, "compared"),
                OptionalValue(agreements, i, "agreements"),
                OptionalValue(paired, i, "paired"),
                OptionalValue(pairedDifferenceSum, i, "paired_difference_sum"),
                OptionalValue(pairedDifferenceSquaredSum, i, "paired_difference_squared_sum"));
            try
            {
                record.ValidateShape();
            }
            catch (ArgumentException ex)
            {
                throw new TelemetryFormatException($"row {i}: {ex.Message.Split(" (Parameter", 2)[0]}", ex);
            }

            records.Add(record);
        }
    }

    /// <summary>An optional column's value, zero when the batch lacks the column.</summary>
    private static T OptionalValue<T>(PrimitiveArray<T>? column, int row, string name)
        where T : struct, IEquatable<T> =>
        column is null ? default : TelemetryColumns.Required(column.GetValue(row), name);

    /// <summary>The batch's list columns (every list the schema declares), bounds-checked once, each refusing a null row.</summary>
    private sealed class Lists
    {
        private readonly Dictionary<string, ListArray> _columns = new(StringComparer.Ordinal);

        public Lists(RecordBatch batch)
        {
            foreach (var column in Columns.Where(c => c.Type is ListType))
            {
                if (TelemetryColumns.Optional<ListArray>(batch, column.Name) is { } list)
                {
                    TelemetryColumns.ValidateList(list, column.Name);
                    _columns[column.Name] = list;
                }
            }
        }

        public ListArray Get(string name, int row) =>
            GetOptional(name, row) ?? throw new TelemetryFormatException($"column '{name}' is missing");

        /// <summary>Null when the batch lacks the (optional) column.</summary>
        public ListArray? GetOptional(string name, int row) =>
            !_columns.TryGetValue(name, out var list) ? null
            : list.IsNull(row) ? throw new TelemetryFormatException($"column '{name}' has a null")
            : list;
    }
}

public sealed record QualityBatch(string DeviceId, IReadOnlyList<QualityRecord> Records);
