using System.Collections;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Telemetry;
using Parquet.Schema;
using Parquet.Serialization;

namespace EdgePlatform.ControlPlane.Host.Tests.Telemetry;

public sealed class TelemetryParquetExportTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task WriteAsync_RawHealth_HasEveryDeclaredFieldWithTheValueWritten()
    {
        var records = Filled(TelemetrySchemas.Health);
        var result = new TelemetryQueryResult("raw", [], [.. records.Select(r => new TelemetryPoint("dev-1", TelemetryKinds.Health, Now.AddSeconds(30), r))]);

        var export = await ExportUntypedAsync(result);

        AssertEveryField(TelemetrySchemas.Health, records, export);
        Assert.All(export.Data, row => Assert.Equal(("dev-1", TelemetryKinds.Health, Now.AddSeconds(30).UtcDateTime), ((string)row["device_id"], (string)row["kind"], (DateTime)row["received_at"])));
    }

    [Fact]
    public async Task WriteAsync_RawPerf_HasEveryDeclaredFieldWithTheValueWritten()
    {
        var records = Filled(TelemetrySchemas.Perf);
        var result = new TelemetryQueryResult("raw", [], []) { Kind = TelemetryKinds.Perf, Perf = [.. records.Select(r => new PerfPoint("dev-1", r))] };

        var export = await ExportUntypedAsync(result);

        AssertEveryField(TelemetrySchemas.Perf, records, export);
        Assert.All(export.Data, row => Assert.Equal("dev-1", row["device_id"]));
    }

    [Fact]
    public async Task WriteAsync_RawQuality_HasEveryDeclaredFieldWithTheValueWritten()
    {
        var records = Filled(TelemetrySchemas.Quality);
        var result = new TelemetryQueryResult("raw", [], []) { Kind = TelemetryKinds.Quality, Quality = [.. records.Select(r => new QualityPoint("dev-1", r))] };

        var export = await ExportUntypedAsync(result);

        AssertEveryField(TelemetrySchemas.Quality, records, export);
        Assert.All(export.Data, row => Assert.Equal("dev-1", row["device_id"]));
    }

    /// <summary>Notebooks written against earlier exports select these columns by name.</summary>
    [Theory]
    [InlineData(TelemetryKinds.Health, "device_id kind sequence timestamp received_at model_name model_version manifest_digest events_in events_scored errors dead_lettered latency_p50_ms latency_p95_ms latency_p99_ms latency_max_ms cpu_percent memory_bytes queue_depth reports_shed")]
    [InlineData(TelemetryKinds.Perf, "device_id sequence timestamp interval_ms model_name model_version manifest_digest arm events_in events_scored errors dead_lettered dropped latency_p50_ms latency_p95_ms latency_p99_ms latency_max_ms latency_mean_ms latency_histogram batches batch_size_mean batch_size_max batch_size_histogram")]
    [InlineData(TelemetryKinds.Quality, "device_id sequence timestamp model_name model_version manifest_digest arm scores score_mean score_bin_edges score_histogram feature_names feature_count feature_mean feature_variance feature_min feature_max feature_psi drift_psi_max labelled true_positives false_positives true_negatives false_negatives error_sum absolute_error_sum squared_error_sum log_loss_sum log_loss_squared_sum labelled_positive_histogram labelled_negative_histogram compared agreements paired paired_difference_sum paired_difference_squared_sum")]
    public void RawSchema_ColumnsOfEarlierExports_AreAllStillThere(string kind, string columns)
    {
        var exported = TelemetryParquetExport.RawSchema(kind).Fields.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);

        Assert.Empty(columns.Split(' ').Except(exported, StringComparer.Ordinal));
    }

    [Fact]
    public async Task WriteAsync_RawWithNoRecords_WritesTheColumnsAnyway()
    {
        var export = await ExportUntypedAsync(new TelemetryQueryResult("raw", [], []) { Kind = TelemetryKinds.Perf });

        Assert.Empty(export.Data);
        Assert.Equal(TelemetrySchemas.Perf.Fields.Select(f => f.Name), export.Schema.Fields.Select(f => f.Name).Skip(1));
    }

    [Fact]
    public async Task WriteAsync_RawQuality_HasTheExperimentColumnsWithTheirValues()
    {
        var record = Record();
        var result = new TelemetryQueryResult("raw", [], []) { Kind = TelemetryKinds.Quality, Quality = [new QualityPoint("dev-1", record)] };

        var row = Assert.Single(await ExportAsync(result));

        Assert.Equal((2.5, 7.25), ((double)row["log_loss_sum"]!, (double)row["log_loss_squared_sum"]!));
        Assert.Equal((40L, 38L, 6L), ((long)row["compared"]!, (long)row["agreements"]!, (long)row["paired"]!));
        Assert.Equal((-2.0, 4.0), ((double)row["paired_difference_sum"]!, (double)row["paired_difference_squared_sum"]!));
        Assert.Equal(record.LabelledPositiveHistogram, Longs(row["labelled_positive_histogram"]));
        Assert.Equal(record.LabelledNegativeHistogram, Longs(row["labelled_negative_histogram"]));
    }

    [Fact]
    public async Task WriteAsync_QualityMinutes_HasTheExperimentColumnsWithTheirValues()
    {
        var record = Record();
        var minute = EdgePlatform.ControlPlane.Telemetry.QualityRollup.From(record, Now);
        var result = new TelemetryQueryResult("minute", [], []) { Kind = TelemetryKinds.Quality, QualityMinutes = [minute] };

        var row = Assert.Single(await ExportAsync(result));

        Assert.Equal((2.5, 40L, 38L, 6L, -2.0), ((double)row["log_loss_sum"]!, (long)row["compared"]!, (long)row["agreements"]!, (long)row["paired"]!, (double)row["paired_difference_sum"]!));
        Assert.Equal(record.LabelledPositiveHistogram, Longs(row["labelled_positive_histogram"]));
    }

    private static async Task<IList<Dictionary<string, object>>> ExportAsync(TelemetryQueryResult result) => (await ExportUntypedAsync(result)).Data;

    private static async Task<DeserializationResult<Dictionary<string, object>>> ExportUntypedAsync(TelemetryQueryResult result)
    {
        using var stream = new MemoryStream();
        await TelemetryParquetExport.WriteAsync(result, stream, CancellationToken.None);
        stream.Position = 0;
        return await ParquetSerializer.DeserializeUntypedAsync(stream);
    }

    /// <summary>
    /// Two records of the kind: one with a distinct value in every declared field, and one with
    /// every nullable scalar null, so a field declared later is exported and checked unchanged.
    /// </summary>
    private static List<TRecord> Filled<TRecord>(TelemetrySchema<TRecord> schema)
    {
        var record = schema.Empty;
        for (var i = 0; i < schema.Fields.Count; i++)
        {
            record = schema.Fields[i].WithValue(record, Sample(schema.Fields[i].Kind, i + 1));
        }

        var nulls = record;
        foreach (var field in schema.Fields.Where(f => f.Nullable && f.Kind is not TelemetryValueKind.NullableRealList))
        {
            nulls = field.WithValue(nulls, null);
        }

        return [record, nulls];
    }

    private static object Sample(TelemetryValueKind kind, int i) => kind switch
    {
        TelemetryValueKind.Count => 1_000_000_000_000L + i,
        TelemetryValueKind.SmallInteger => 100 + i,
        TelemetryValueKind.Real => i + 0.25,
        TelemetryValueKind.Timestamp => Now.AddSeconds(i).AddMilliseconds(125),
        TelemetryValueKind.Text => $"text-{i}",
        TelemetryValueKind.Bytes => new ReadOnlyMemory<byte>([1, 2, (byte)i]),
        TelemetryValueKind.IntegerList => (IReadOnlyList<long>)[i, i + 1L, 0],
        TelemetryValueKind.RealList => (IReadOnlyList<double>)[i + 0.5, -i - 1.5],
        TelemetryValueKind.NullableRealList => (IReadOnlyList<double?>)[null, i + 0.5, null],
        TelemetryValueKind.TextList => (IReadOnlyList<string>)[$"a-{i}", $"b-{i}"],
        _ => throw new InvalidOperationException($"no sample for {kind}"),
    };

    /// <summary>
    /// Each declared field is a column of its declared shape holding each record's value, bit for
    /// bit as nothing is computed; a null list element reads as NaN, which keeps lists aligned.
    /// </summary>
    private static void AssertEveryField<TRecord>(TelemetrySchema<TRecord> schema, List<TRecord> records, DeserializationResult<Dictionary<string, object>> export)
    {
        Assert.Equal(records.Count, export.Data.Count);
        foreach (var field in schema.Fields)
        {
            var column = export.Schema.Fields.SingleOrDefault(f => f.Name == field.Name);
            Assert.True(column is not null, $"no column {field.Name}");
            if (field.Kind is TelemetryValueKind.IntegerList or TelemetryValueKind.RealList or TelemetryValueKind.NullableRealList or TelemetryValueKind.TextList)
            {
                var item = Assert.IsType<DataField>(Assert.IsType<ListField>(column).Item, exactMatch: false);
                Assert.True(field.Nullable == item.IsNullable, $"{field.Name}: element nullable {item.IsNullable}");
            }
            else
            {
                var data = Assert.IsType<DataField>(column, exactMatch: false);
                Assert.True(field.Nullable == data.IsNullable, $"{field.Name}: nullable {data.IsNullable}");
            }

            for (var row = 0; row < records.Count; row++)
            {
                export.Data[row].TryGetValue(field.Name, out var actual);
                var written = field.GetValue(records[row]) is IReadOnlyList<double?> elements ? elements.Select(e => e ?? double.NaN).ToList() : field.GetValue(records[row]);
                Assert.True(Equals(Normal(written), Normal(actual)), $"{field.Name} row {row}: wrote {Normal(written)}, read {Normal(actual)}");
            }
        }
    }

    /// <summary>A value as text, whatever CLR type the writer took or the reader gave.</summary>
    private static string Normal(object? value) => value switch
    {
        null => "null",
        DateTimeOffset time => time.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        DateTime time => DateTime.SpecifyKind(time, DateTimeKind.Utc).ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        ReadOnlyMemory<byte> bytes => Convert.ToHexString(bytes.Span),
        byte[] bytes => Convert.ToHexString(bytes),
        string text => $"'{text}'",
        ReadOnlyMemory<char> text => $"'{text}'",
        IEnumerable list => $"[{string.Join(", ", list.Cast<object?>().Select(Normal))}]",
        double real => real.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        IFormattable number => number.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static long[] Longs(object? list) => [.. ((System.Collections.IEnumerable)list!).Cast<object>().Select(Convert.ToInt64)];

    private static QualityRecord Record() => new(
        7, Now, "m", "2", null, Arms.Candidate, 40, 0.5, [], [], [], [], [], [], [], [], [], [], null,
        Labelled: 6, TruePositives: 3, FalsePositives: 1, TrueNegatives: 2, FalseNegatives: 0, ErrorSum: 0, AbsoluteErrorSum: 0, SquaredErrorSum: 0,
        LogLossSum: 2.5,
        LogLossSquaredSum: 7.25,
        LabelledPositiveHistogram: [.. Enumerable.Range(0, QualityRecord.LabelledScoreBins).Select(i => i == 80 ? 3L : 0L)],
        LabelledNegativeHistogram: [.. Enumerable.Range(0, QualityRecord.LabelledScoreBins).Select(i => i == 10 ? 3L : 0L)],
        Compared: 40,
        Agreements: 38,
        Paired: 6,
        PairedDifferenceSum: -2,
        PairedDifferenceSquaredSum: 4);
}
