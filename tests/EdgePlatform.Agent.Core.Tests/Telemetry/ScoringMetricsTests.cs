using EdgePlatform.Agent.Core.Telemetry;

namespace EdgePlatform.Agent.Core.Tests.Telemetry;

public sealed class ScoringMetricsTests
{
    [Fact]
    public void TakeInterval_AfterEvents_CountsThemAndStartsTheNextIntervalAtZero()
    {
        var metrics = new ScoringMetrics();
        Record(metrics, received: 5, scored: 3, errors: 2, deadLettered: 1);

        var first = metrics.TakeInterval();
        var second = metrics.TakeInterval();

        Assert.Equal(new ScoringInterval(5, 3, 2, 1, 1, 1, 1) { LatencyP95Ms = 1 }, first);
        Assert.Equal(new ScoringInterval(0, 0, 0, 0, 0, 0, 0), second);
    }

    [Fact]
    public void Totals_AcrossIntervals_KeepGrowing()
    {
        var metrics = new ScoringMetrics();
        Record(metrics, received: 5, scored: 3, errors: 2, deadLettered: 1);
        metrics.TakeInterval();
        Record(metrics, received: 4, scored: 4, errors: 1, deadLettered: 2);

        var interval = metrics.TakeInterval();

        Assert.Equal((4, 4, 1, 2), (interval.Received, interval.Scored, interval.Errors, interval.DeadLettered));
        Assert.Equal(9, metrics.TotalReceived);
        Assert.Equal(7, metrics.TotalScored);
        Assert.Equal(3, metrics.TotalErrors);
        Assert.Equal(3, metrics.TotalDeadLettered);
    }

    [Fact]
    public void TakeInterval_LatenciesOneToHundredMs_ReportsNearestRankPercentilesAndMax()
    {
        var metrics = new ScoringMetrics();
        // Out of order on purpose: 1..100 ms, odd values descending first.
        foreach (var ms in Enumerable.Range(1, 100).OrderBy(v => v % 2 == 0).ThenByDescending(v => v))
        {
            metrics.RecordScored(TimeSpan.FromMilliseconds(ms));
        }

        var interval = metrics.TakeInterval();

        Assert.Equal(100, interval.Scored);
        Assert.Equal(50, interval.LatencyP50Ms, 9);
        Assert.Equal(99, interval.LatencyP99Ms, 9);
        Assert.Equal(100, interval.LatencyMaxMs, 9);
    }

    [Fact]
    public void TakeInterval_FewSamples_PercentilesComeFromRecordedValues()
    {
        var metrics = new ScoringMetrics();
        metrics.RecordScored(TimeSpan.FromMilliseconds(2));
        metrics.RecordScored(TimeSpan.FromMilliseconds(8));
        metrics.RecordScored(TimeSpan.FromMilliseconds(4));

        var interval = metrics.TakeInterval();

        Assert.Equal(4, interval.LatencyP50Ms, 9);
        Assert.Equal(8, interval.LatencyP99Ms, 9);
        Assert.Equal(8, interval.LatencyMaxMs, 9);
    }

    [Fact]
    public void TakeInterval_NextInterval_DoesNotCarryEarlierLatencies()
    {
        var metrics = new ScoringMetrics();
        metrics.RecordScored(TimeSpan.FromMilliseconds(500));
        metrics.TakeInterval();
        metrics.RecordScored(TimeSpan.FromMilliseconds(3));

        var interval = metrics.TakeInterval();

        Assert.Equal(3, interval.LatencyMaxMs, 9);
        Assert.Equal(3, interval.LatencyP99Ms, 9);
    }

    [Fact]
    public void TakeInterval_MoreScoredThanTheReservoirHolds_KeepsCountsExactAndPercentilesClose()
    {
        var metrics = new ScoringMetrics();
        const int Events = 200_000;
        for (var i = 1; i <= Events; i++)
        {
            metrics.RecordScored(TimeSpan.FromMilliseconds(i / 1000.0));
        }

        var interval = metrics.TakeInterval();

        Assert.Equal(Events, interval.Scored);
        Assert.InRange(interval.LatencyP50Ms, 99, 101);
        Assert.InRange(interval.LatencyP99Ms, 197, 199);
    }

    [Fact]
    public void TakeInterval_MoreScoredThanTheReservoirHolds_MaxIsTheSlowestEvent()
    {
        var metrics = new ScoringMetrics();
        metrics.RecordScored(TimeSpan.FromMilliseconds(1));
        metrics.RecordScored(TimeSpan.FromSeconds(5)); // the second sample is the first one thinning drops
        for (var i = 0; i < 70_000; i++)
        {
            metrics.RecordScored(TimeSpan.FromMilliseconds(1));
        }

        var interval = metrics.TakeInterval();

        Assert.Equal(5000, interval.LatencyMaxMs, 9);
    }

    private static void Record(ScoringMetrics metrics, int received, int scored, int errors, int deadLettered)
    {
        for (var i = 0; i < received; i++)
        {
            metrics.RecordReceived();
        }

        for (var i = 0; i < scored; i++)
        {
            metrics.RecordScored(TimeSpan.FromMilliseconds(1));
        }

        for (var i = 0; i < errors; i++)
        {
            metrics.RecordError();
        }

        for (var i = 0; i < deadLettered; i++)
        {
            metrics.RecordDeadLettered();
        }
    }
}
