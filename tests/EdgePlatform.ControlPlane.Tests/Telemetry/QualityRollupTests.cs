using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Telemetry;

namespace EdgePlatform.ControlPlane.Tests.Telemetry;

public sealed class QualityRollupTests
{
    private static readonly DateTimeOffset Minute = new(2026, 3, 1, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Combine_ExperimentColumns_AddUpAcrossDevices()
    {
        var a = QualityRollup.From(Record(logLoss: 1.5, positiveBin: 90, compared: 10, agreements: 9, paired: 4, difference: -1), Minute);
        var b = QualityRollup.From(Record(logLoss: 0.5, positiveBin: 90, compared: 20, agreements: 15, paired: 2, difference: 2), Minute);

        var combined = QualityRollup.Combine(a, b, sameDevice: false);

        Assert.Equal((2.0, (1.5 * 1.5) + (0.5 * 0.5)), (combined.LogLossSum, combined.LogLossSquaredSum));
        Assert.Equal(2L, combined.LabelledPositiveHistogram[90]);
        Assert.Equal(2L, combined.LabelledNegativeHistogram.Sum());
        Assert.Equal((30L, 24L, 6L, 1.0, 5.0), (combined.Compared, combined.Agreements, combined.Paired, combined.PairedDifferenceSum, combined.PairedDifferenceSquaredSum));
    }

    [Fact]
    public void Combine_RecordWithoutHistogramsBesideOneWith_KeepsTheOnesCounts()
    {
        var old = QualityRollup.From(Record(logLoss: 0, positiveBin: 0, compared: 0, agreements: 0, paired: 0, difference: 0) with
        {
            LabelledPositiveHistogram = [],
            LabelledNegativeHistogram = [],
        }, Minute);
        var current = QualityRollup.From(Record(logLoss: 1, positiveBin: 42, compared: 0, agreements: 0, paired: 0, difference: 0), Minute);

        var combined = QualityRollup.Combine(old, current, sameDevice: true);

        Assert.Equal(QualityRecord.LabelledScoreBins, combined.LabelledPositiveHistogram.Count);
        Assert.Equal(1L, combined.LabelledPositiveHistogram[42]);
    }

    private static QualityRecord Record(double logLoss, int positiveBin, long compared, long agreements, long paired, double difference) => new(
        1, Minute, "m", "2", null, Arms.Candidate, 10, 0.5, [], [], [], [], [], [], [], [], [], [], null,
        Labelled: 2, TruePositives: 1, FalsePositives: 0, TrueNegatives: 1, FalseNegatives: 0, ErrorSum: 0, AbsoluteErrorSum: 0, SquaredErrorSum: 0,
        LogLossSum: logLoss,
        LogLossSquaredSum: logLoss * logLoss,
        LabelledPositiveHistogram: [.. Enumerable.Range(0, QualityRecord.LabelledScoreBins).Select(i => i == positiveBin ? 1L : 0L)],
        LabelledNegativeHistogram: [.. Enumerable.Range(0, QualityRecord.LabelledScoreBins).Select(i => i == 3 ? 1L : 0L)],
        Compared: compared,
        Agreements: agreements,
        Paired: paired,
        PairedDifferenceSum: difference,
        PairedDifferenceSquaredSum: difference * difference);
}
