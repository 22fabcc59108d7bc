using Apache.Arrow;
using Apache.Arrow.Types;

namespace EdgePlatform.Contracts.Tests;

public class QualityArrowTests
{
    private static readonly DateTimeOffset Start = new(2025, 3, 1, 12, 0, 0, 456, TimeSpan.Zero);

    [Fact]
    public void Deserialize_SerializedBatch_RoundTripsEveryRecord()
    {
        QualityRecord[] records =
        [
            Sample(11, Arms.Control),
            Sample(12, Arms.Candidate) with { FeaturePsi = [null, 0.25], DriftPsiMax = 0.25, ScoreBinEdges = [], ScoreHistogram = [] },
            Sample(13, Arms.Control) with { FeatureNames = [], FeatureCount = [], FeatureMean = [], FeatureVariance = [], FeatureMin = [], FeatureMax = [], FeaturePsi = [], FeatureDecileCounts = [], DriftPsiMax = null },
        ];

        var batch = QualityArrow.Deserialize(QualityArrow.Serialize("dev-1", records));

        Assert.Equal("dev-1", batch.DeviceId);
        Assert.Equal(records, batch.Records);
    }

    [Fact]
    public void Deserialize_ExperimentColumns_RoundTripOnTheCandidatesRecord()
    {
        var record = Sample(21, Arms.Candidate) with
        {
            LogLossSum = 3.75,
            LogLossSquaredSum = 9.5,
            LabelledPositiveHistogram = Hundred(bin: 95, count: 3),
            LabelledNegativeHistogram = Hundred(bin: 4, count: 7),
            Compared = 180,
            Agreements = 171,
            Paired = 10,
            PairedDifferenceSum = -2,
            PairedDifferenceSquaredSum = 4,
        };

        var decoded = Assert.Single(QualityArrow.Deserialize(QualityArrow.Serialize("dev-1", [record])).Records);

        Assert.Equal(record, decoded);
        Assert.NotEqual(record with { Paired = 11 }, decoded);
        Assert.NotEqual(record with { LabelledNegativeHistogram = Hundred(bin: 5, count: 7) }, decoded);
    }

    [Fact]
    public void Deserialize_BatchFromBeforeTheExperimentColumns_ReadsThemAsZerosAndEmptyHistograms()
    {
        string[] added =
        [
            "log_loss_sum", "log_loss_squared_sum", "labelled_positive_histogram", "labelled_negative_histogram",
            "compared", "agreements", "paired", "paired_difference_sum", "paired_difference_squared_sum",
        ];
        var record = Sample(1, Arms.Control);
        var full = QualityArrow.CreateSchema("dev-1");
        var columns = Columns(full, record with { LogLossSum = 1, Compared = 4, LabelledPositiveHistogram = Hundred(1, 1), LabelledNegativeHistogram = Hundred(2, 1) });
        var kept = Enumerable.Range(0, full.FieldsList.Count).Where(i => !added.Contains(full.FieldsList[i].Name)).ToList();
        var schema = new Schema(kept.Select(i => full.FieldsList[i]), full.Metadata);

        var decoded = Assert.Single(QualityArrow.Deserialize(ArrowTestData.Write(schema, [.. kept.Select(i => columns[i])])).Records);

        Assert.Equal(9, full.FieldsList.Count - schema.FieldsList.Count);
        Assert.Equal(record, decoded);
    }

    [Fact]
    public void Serialize_LabelledHistogramNotHundredBins_ThrowsNamingTheList()
    {
        var record = Sample(1, Arms.Control) with { LabelledPositiveHistogram = Hundred(0, 1), LabelledNegativeHistogram = [1, 2, 3] };

        var exception = Assert.Throws<ArgumentException>(() => QualityArrow.Serialize("dev-1", [record]));

        Assert.StartsWith("labelled_negative_histogram has 3 element(s), expected 100", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deserialize_MoreAgreementsThanComparisons_ThrowsNamingThem()
    {
        var payload = Write(Sample(1, Arms.Candidate) with { Compared = 5, Agreements = 5 }, "agreements", new Int64Array.Builder().Append(6).Build());

        var exception = Assert.Throws<TelemetryFormatException>(() => QualityArrow.Deserialize(payload));

        Assert.Equal("row 0: agreements is 6, more than the 5 compared", exception.Message);
    }

    [Fact]
    public void Deserialize_NullPsiOfOneFeature_StaysNullBesideTheOthers()
    {
        var record = Sample(1, Arms.Control) with { FeaturePsi = [0.01, null] };

        var decoded = Assert.Single(QualityArrow.Deserialize(QualityArrow.Serialize("dev-1", [record])).Records);

        Assert.Equal([0.01, null], decoded.FeaturePsi);
    }

    [Fact]
    public void Serialize_ListsOfDifferentLengths_ThrowsNamingTheList()
    {
        var record = Sample(1, Arms.Control) with { FeatureMean = [1.0] };

        var exception = Assert.Throws<ArgumentException>(() => QualityArrow.Serialize("dev-1", [record]));

        Assert.StartsWith("feature_mean has 1 element(s), expected 2", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deserialize_ParallelListsOfDifferentLengths_ThrowsNamingTheList()
    {
        var schema = QualityArrow.CreateSchema("dev-1");
        var columns = Columns(schema, Sample(1, Arms.Control));
        columns[schema.GetFieldIndex("feature_variance")] = DoubleList(1.0, 2.0, 3.0);

        var exception = Assert.Throws<TelemetryFormatException>(() => QualityArrow.Deserialize(ArrowTestData.Write(schema, columns)));

        Assert.Equal("row 0: feature_variance has 3 element(s), expected 2", exception.Message);
    }

    [Fact]
    public void Deserialize_DecileCountsNotTenPerFeature_ThrowsNamingTheList()
    {
        var payload = Write(Sample(1, Arms.Control), "feature_decile_counts", Int64List(1, 2, 3));

        var exception = Assert.Throws<TelemetryFormatException>(() => QualityArrow.Deserialize(payload));

        Assert.Equal("row 0: feature_decile_counts has 3 element(s), expected 20", exception.Message);
    }

    [Fact]
    public void Deserialize_NullFeatureName_ThrowsNamingTheColumn()
    {
        var builder = new ListArray.Builder(StringType.Default);
        builder.Append();
        ((StringArray.Builder)builder.ValueBuilder).Append("rpm").AppendNull();
        var payload = Write(Sample(1, Arms.Control), "feature_names", builder.Build());

        var exception = Assert.Throws<TelemetryFormatException>(() => QualityArrow.Deserialize(payload));

        Assert.Equal("column 'feature_names' has a null element (row 0)", exception.Message);
    }

    [Fact]
    public void Deserialize_FeatureNameOffsetsBeyondTheirData_ThrowsNamingTheColumn()
    {
        var names = new StringArray(
            2,
            new ArrowBuffer.Builder<int>().Append(0).Append(3).Append(90_000).Build(),
            new ArrowBuffer.Builder<byte>().Append("rpmtemp"u8).Build(),
            ArrowBuffer.Empty,
            nullCount: 0);
        var list = new ListArray(
            new ListType(StringType.Default), 1, new ArrowBuffer.Builder<int>().Append(0).Append(2).Build(), names, ArrowBuffer.Empty, nullCount: 0);
        var payload = Write(Sample(1, Arms.Control), "feature_names", list);

        var exception = Assert.Throws<TelemetryFormatException>(() => QualityArrow.Deserialize(payload));

        Assert.Equal("column 'feature_names.item' has offsets outside its data (row 1)", exception.Message);
    }

    [Fact]
    public void Deserialize_NullListRow_ThrowsNamingTheColumn()
    {
        var builder = new ListArray.Builder(Int64Type.Default);
        builder.AppendNull();
        var payload = Write(Sample(1, Arms.Control), "score_histogram", builder.Build());

        var exception = Assert.Throws<TelemetryFormatException>(() => QualityArrow.Deserialize(payload));

        Assert.Equal("column 'score_histogram' has a null", exception.Message);
    }

    [Fact]
    public void Deserialize_EverySingleByteCorruption_DecodesOrThrowsTelemetryFormatException() =>
        ArrowTestData.AssertEverySingleByteCorruptionDecodesOrIsRefused(
            QualityArrow.Serialize("dev-1", [Sample(1, Arms.Control), Sample(2, Arms.Candidate) with { FeaturePsi = [null, 1.5] }]), p => QualityArrow.Deserialize(p));

    [Fact]
    public void Deserialize_TruncatedStream_ThrowsTelemetryFormatException()
    {
        var payload = QualityArrow.Serialize("dev-1", [Sample(1, Arms.Control)]);

        var exception = Xunit.Record.Exception(() => QualityArrow.Deserialize(payload.AsMemory(0, payload.Length - 40)));

        Assert.IsType<TelemetryFormatException>(exception);
    }

    [Fact]
    public void Json_QualityRecord_RoundTripsThroughTheContractsContext()
    {
        var record = Sample(5, Arms.Candidate) with
        {
            FeaturePsi = [null, 0.5], LogLossSum = 2.5, LabelledPositiveHistogram = Hundred(99, 2), LabelledNegativeHistogram = Hundred(0, 1),
            Compared = 3, Agreements = 2, Paired = 1, PairedDifferenceSum = -1, PairedDifferenceSquaredSum = 1,
        };

        var json = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(record, ContractsJsonContext.Default.QualityRecord);

        Assert.Equal(record, System.Text.Json.JsonSerializer.Deserialize(json, ContractsJsonContext.Default.QualityRecord));
    }

    private static long[] Hundred(int bin, long count) =>
        [.. Enumerable.Range(0, QualityRecord.LabelledScoreBins).Select(i => i == bin ? count : 0L)];

    private static QualityRecord Sample(long sequence, string arm) => new(
        sequence, Start.AddSeconds(10 * sequence), "sensor-anomaly", "3", "sha256:" + new string('c', 64), arm,
        Scores: 200,
        ScoreMean: 0.125,
        ScoreBinEdges: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
        ScoreHistogram: [150, 20, 5, 5, 5, 5, 2, 3, 2, 3],
        FeatureNames: ["temperature_c", "rpm"],
        FeatureCount: [20, 20],
        FeatureMean: [51.5, 1460],
        FeatureVariance: [4.25, 100],
        FeatureMin: [45, 1400],
        FeatureMax: [60.5, 1500],
        FeaturePsi: [0.02, 0.75],
        FeatureDecileCounts: [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20],
        DriftPsiMax: 0.75,
        Labelled: 10,
        TruePositives: 2,
        FalsePositives: 1,
        TrueNegatives: 6,
        FalseNegatives: 1,
        ErrorSum: 0,
        AbsoluteErrorSum: 0,
        SquaredErrorSum: 0);

    /// <summary>The record as Arrow columns, with one column replaced.</summary>
    private static byte[] Write(QualityRecord record, string column, IArrowArray replacement)
    {
        var schema = QualityArrow.CreateSchema("dev-1");
        var columns = Columns(schema, record);
        columns[schema.GetFieldIndex(column)] = replacement;
        return ArrowTestData.Write(schema, columns);
    }

    private static IArrowArray[] Columns(Schema schema, QualityRecord record)
    {
        using var stream = new Apache.Arrow.Ipc.ArrowStreamReader(QualityArrow.Serialize("dev-1", [record]));
        var batch = stream.ReadNextRecordBatch();
        return [.. Enumerable.Range(0, schema.FieldsList.Count).Select(batch.Column)];
    }

    private static ListArray DoubleList(params double[] values)
    {
        var builder = new ListArray.Builder(DoubleType.Default);
        builder.Append();
        ((DoubleArray.Builder)builder.ValueBuilder).AppendRange(values);
        return builder.Build();
    }

    private static ListArray Int64List(params long[] values)
    {
        var builder = new ListArray.Builder(Int64Type.Default);
        builder.Append();
        ((Int64Array.Builder)builder.ValueBuilder).AppendRange(values);
        return builder.Build();
    }
}
