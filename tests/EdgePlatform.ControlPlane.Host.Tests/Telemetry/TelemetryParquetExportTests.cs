using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Telemetry;
using Parquet.Serialization;

namespace EdgePlatform.ControlPlane.Host.Tests.Telemetry;

public sealed class TelemetryParquetExportTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);

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

    private static async Task<IList<Dictionary<string, object>>> ExportAsync(TelemetryQueryResult result)
    {
        using var stream = new MemoryStream();
        await TelemetryParquetExport.WriteAsync(result, stream, CancellationToken.None);
        stream.Position = 0;
        return (await ParquetSerializer.DeserializeUntypedAsync(stream)).Data;
    }

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
