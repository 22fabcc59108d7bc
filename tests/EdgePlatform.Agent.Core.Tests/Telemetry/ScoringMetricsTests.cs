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
    public void TakeInterval_LatenciesOneToHundredMs_ReportsNearestRankPercentilesWithinAThousandthAndExactMax()
    {
        var metrics = new ScoringMetrics();
        // Out of order on purpose: 1..100 ms, odd values descending first.
        foreach (var ms in Enumerable.Range(1, 100).OrderBy(v => v % 2 == 0).ThenByDescending(v => v))
        {
            metrics.RecordScored(TimeSpan.FromMilliseconds(ms));
        }

        var interval = metrics.TakeInterval();

        Assert.Equal(100, interval.Scored);
        AssertWithinAThousandth(50, interval.LatencyP50Ms);
        AssertWithinAThousandth(95, interval.LatencyP95Ms);
        AssertWithinAThousandth(99, interval.LatencyP99Ms);
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

        AssertWithinAThousandth(4, interval.LatencyP50Ms);
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
    public void TakeInterval_ManyEvents_KeepsCountsExactAndPercentilesClose()
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
    public void TakeInterval_OneSlowEventAmongMany_MaxIsTheSlowestEvent()
    {
        var metrics = new ScoringMetrics();
        metrics.RecordScored(TimeSpan.FromMilliseconds(1));
        metrics.RecordScored(TimeSpan.FromSeconds(5));
        for (var i = 0; i < 70_000; i++)
        {
            metrics.RecordScored(TimeSpan.FromMilliseconds(1));
        }

        var interval = metrics.TakeInterval();

        Assert.Equal(5000, interval.LatencyMaxMs, 9);
    }

    [Fact]
    public void TakeInterval_ExponentialLatencies_PercentilesMatchTheDistributionsQuantiles()
    {
        // Latencies at the 1/20001 … 20000/20001 quantiles of an exponential with mean 4 ms: the
        // sample's p-th percentile is −4·ln(1 − p) ms to within the histogram's 0.1 %.
        var metrics = new ScoringMetrics();
        const int Events = 20_000;
        for (var i = 1; i <= Events; i++)
        {
            metrics.RecordScored(TimeSpan.FromMilliseconds(-4 * Math.Log(1 - (i / (Events + 1.0)))));
        }

        var interval = metrics.TakeInterval();

        AssertWithinAThousandth(-4 * Math.Log(0.5), interval.LatencyP50Ms, slack: 0.002);
        AssertWithinAThousandth(-4 * Math.Log(0.05), interval.LatencyP95Ms, slack: 0.002);
        AssertWithinAThousandth(-4 * Math.Log(0.01), interval.LatencyP99Ms, slack: 0.002);
    }

    [Fact]
    public void RecordDropped_CountsAsAnErrorAndApartAsDropped()
    {
        var metrics = new ScoringMetrics();
        metrics.RecordError();
        metrics.RecordDropped();
        metrics.RecordDropped();

        var interval = metrics.TakeInterval();

        Assert.Equal((3L, 2L), (interval.Errors, interval.Dropped));
        Assert.Equal(3, metrics.TotalErrors);
    }

    [Fact]
    public void TakeInterval_FeedbackCounts_StartTheNextIntervalAtZero()
    {
        var metrics = new ScoringMetrics();
        metrics.RecordFeedbackUnmatched();
        metrics.RecordFeedbackUnmatched();
        metrics.RecordFeedbackMalformed();

        var first = metrics.TakeInterval();
        var second = metrics.TakeInterval();

        Assert.Equal((2L, 1L), (first.FeedbackUnmatched, first.FeedbackMalformed));
        Assert.Equal((0L, 0L), (second.FeedbackUnmatched, second.FeedbackMalformed));
    }

    /// <summary>HdrHistogram with three significant digits reports a value within 0.1 % of the recorded one (plus sampling slack).</summary>
    private static void AssertWithinAThousandth(double expected, double actual, double slack = 0) =>
        Assert.InRange(actual, expected * (1 - 0.001 - slack), expected * (1 + 0.001 + slack));

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
