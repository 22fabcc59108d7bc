using EdgePlatform.Agent.Core.Telemetry;
using EdgePlatform.Contracts;
using HdrHistogram;
using HdrHistogram.Utilities;

namespace EdgePlatform.Agent.Core.Tests.Telemetry;

public sealed class ModelArmMetricsTests
{
    private static readonly DateTimeOffset Now = new(2026, 2, 1, 8, 0, 0, TimeSpan.Zero);
    private static readonly ModelArmKey Control = new("sensor-anomaly", "3", "sha256:" + new string('d', 64), Arms.Control);

    [Fact]
    public void TakeInterval_RunsFailuresAndDrops_CountsEveryEventOnceAndBatchSizesByPowerOfTwo()
    {
        var metrics = Metrics(Classifier("x"));
        Run(metrics, rows: 3, latencyMs: 1);
        Run(metrics, rows: 64, latencyMs: 2);
        metrics.TryRecordErrors(2);
        metrics.TryRecordDeadLettered(1);
        metrics.TryRecordDropped(4);

        var (perf, _) = metrics.TakeInterval(Now, 10_000)!.Value;

        Assert.Equal((67 + 2 + 1 + 4L, 67L, 2L, 1L, 4L), (perf.EventsIn, perf.EventsScored, perf.Errors, perf.DeadLettered, perf.Dropped));
        Assert.Equal((2L, 33.5, 64L), (perf.Batches, perf.BatchSizeMean, perf.BatchSizeMax));
        Assert.Equal([0L, 0, 1, 0, 0, 0, 1], perf.BatchSizeHistogram);
        Assert.Equal((Control.ModelName, Control.ModelVersion, Control.ManifestDigest, Control.Arm, 10_000L), (perf.ModelName, perf.ModelVersion, perf.ManifestDigest, perf.Arm, perf.IntervalMs));
    }

    [Fact]
    public void TakeInterval_LatencyHistogram_DecodesWithHdrHistogramToTheRecordedLatencies()
    {
        var metrics = Metrics(Classifier("x"));
        // 1 to 1,000 µs, each once: p50 500 µs, p99 990 µs, max 1 ms.
        var latencies = Enumerable.Range(1, 1000).Select(us => TimeSpan.FromMicroseconds(us)).ToArray();
        metrics.TryRecordRun(latencies, new double[1000], new float[1000]);

        var (perf, _) = metrics.TakeInterval(Now, 10_000)!.Value;
        var decoded = HistogramEncoding.DecodeFromCompressedByteBuffer(ByteBuffer.Allocate(perf.LatencyHistogram.ToArray()), 0);

        Assert.Equal(1000, decoded.TotalCount);
        Assert.Equal(500, decoded.GetValueAtPercentile(50));
        Assert.Equal(990, decoded.GetValueAtPercentile(99));
        Assert.Equal((0.5, 0.99, 1.0), (perf.LatencyP50Ms, perf.LatencyP99Ms, perf.LatencyMaxMs));
        Assert.Equal(0.5005, perf.LatencyMeanMs, 9);
    }

    [Fact]
    public void TakeInterval_EveryEventSampled_FeatureMomentsEqualTheExactOnes()
    {
        var metrics = Metrics(Classifier("a", "b"));
        float[] a = [10, 12, 11, 15, 9, 14];
        float[] b = [1000, 1002, 998, 1001, 999, 1000];
        var features = a.Zip(b).SelectMany(p => new[] { p.First, p.Second }).ToArray();
        metrics.TryRecordRun(Latencies(6, 1), new double[6], features);

        var (_, quality) = metrics.TakeInterval(Now, 10_000)!.Value;

        Assert.Equal(["a", "b"], quality.FeatureNames);
        Assert.Equal([6L, 6], quality.FeatureCount);
        Assert.Equal(a.Average(v => (double)v), quality.FeatureMean[0], 9);
        Assert.Equal(b.Average(v => (double)v), quality.FeatureMean[1], 9);
        Assert.Equal(PopulationVariance(a), quality.FeatureVariance[0], 9);
        Assert.Equal(PopulationVariance(b), quality.FeatureVariance[1], 9);
        Assert.Equal([9.0, 998], quality.FeatureMin);
        Assert.Equal([15.0, 1002], quality.FeatureMax);
    }

    [Fact]
    public void TakeInterval_QuarterSampled_ObservesExactlyAQuarterAndSaysSo()
    {
        var metrics = new ModelArmMetrics(Control, Classifier("x", new FeatureBaseline("x", 0, 1, -3, 3)), featureSampleRate: 0.25);
        for (var i = 0; i < 10; i++)
        {
            Run(metrics, rows: 10, latencyMs: 1);
        }

        var (perf, quality) = metrics.TakeInterval(Now, 10_000)!.Value;

        Assert.Equal(100, perf.EventsScored);
        Assert.Equal([25L], quality.FeatureCount);
        Assert.Equal(25, quality.FeatureDecileCounts.Sum());
    }

    [Fact]
    public void TakeInterval_SampleFromTheBaseline_PsiNearZero()
    {
        var metrics = Metrics(Classifier("x", new FeatureBaseline("x", 50, 5, 20, 80)));
        Feed(metrics, Normal(seed: 1, count: 20_000, mean: 50, stdDev: 5));

        var (_, quality) = metrics.TakeInterval(Now, 10_000)!.Value;

        Assert.InRange(quality.FeaturePsi[0]!.Value, 0, 0.01);
        Assert.Equal(quality.FeaturePsi[0], quality.DriftPsiMax);
        Assert.All(Enumerable.Range(0, 10), bin => Assert.InRange(quality.FeatureDecileCounts[bin], 1_800, 2_200));
    }

    [Fact]
    public void TakeInterval_SampleShiftedByOneStandardDeviation_PsiFarAboveTheUsualAlarm()
    {
        var metrics = Metrics(Classifier("x", new FeatureBaseline("x", 50, 5, 20, 80)));
        Feed(metrics, Normal(seed: 2, count: 20_000, mean: 55, stdDev: 5));

        var (_, quality) = metrics.TakeInterval(Now, 10_000)!.Value;

        // 0.25 is the customary "significant shift" threshold.
        Assert.InRange(quality.FeaturePsi[0]!.Value, 0.5, 2);
    }

    [Fact]
    public void TakeInterval_CardWithTrainingDeciles_BinsByThemRatherThanTheNormalApproximation()
    {
        // Training data uniform on [0, 100): deciles 10, 20, …, 90; a normal approximation would put
        // far less than a tenth in the outer bins, so uniform input would read as drift.
        double[] deciles = [10, 20, 30, 40, 50, 60, 70, 80, 90];
        var metrics = Metrics(Classifier("x", new FeatureBaseline("x", 50, 28.87, 0, 100, deciles)));
        var random = new Random(3);
        Feed(metrics, [.. Enumerable.Range(0, 20_000).Select(_ => random.NextDouble() * 100)]);

        var (_, quality) = metrics.TakeInterval(Now, 10_000)!.Value;

        Assert.InRange(quality.FeaturePsi[0]!.Value, 0, 0.01);
    }

    [Fact]
    public void TakeInterval_FeatureWithoutBaseline_HasNoPsiButItsMoments()
    {
        var metrics = Metrics(Classifier("x"));
        Feed(metrics, [1, 2, 3]);

        var (_, quality) = metrics.TakeInterval(Now, 10_000)!.Value;

        Assert.Equal([null], quality.FeaturePsi);
        Assert.Null(quality.DriftPsiMax);
        Assert.Equal(2, quality.FeatureMean[0], 9);
        Assert.Equal(new long[10], quality.FeatureDecileCounts);
    }

    [Fact]
    public void TakeInterval_ClassifierProbabilities_FallInTenEqualBins()
    {
        var metrics = Metrics(Classifier("x"));
        double[] probabilities = [0.05, 0.15, 0.95, 1.0, double.NaN];
        metrics.TryRecordRun(Latencies(5, 1), probabilities, new float[5]);

        var (_, quality) = metrics.TakeInterval(Now, 10_000)!.Value;

        Assert.Equal(4, quality.Scores);
        Assert.Equal((0.05 + 0.15 + 0.95 + 1.0) / 4, quality.ScoreMean, 9);
        Assert.Equal([1L, 1, 0, 0, 0, 0, 0, 0, 0, 2], quality.ScoreHistogram);
        Assert.Equal(11, quality.ScoreBinEdges.Count);
    }

    [Fact]
    public void TryRecordOutcome_Classifier_CountsTheConfusionMatrix()
    {
        var metrics = Metrics(Classifier("x"));
        (bool Predicted, double Label)[] outcomes = [(true, 1), (true, 1), (true, 0), (false, 0), (false, 0), (false, 0), (false, 1)];
        foreach (var (predicted, label) in outcomes)
        {
            metrics.TryRecordOutcome(predicted, null, label);
        }

        var (_, quality) = metrics.TakeInterval(Now, 10_000)!.Value;

        Assert.Equal((7L, 2L, 1L, 3L, 1L), (quality.Labelled, quality.TruePositives, quality.FalsePositives, quality.TrueNegatives, quality.FalseNegatives));
        Assert.Equal((0.0, 0.0, 0.0), (quality.ErrorSum, quality.AbsoluteErrorSum, quality.SquaredErrorSum));
    }

    [Fact]
    public void TryRecordOutcome_ClassifierProbabilities_SumsLogLossAndCountsThemByLabelInHundredBins()
    {
        var metrics = Metrics(Classifier("x"));
        metrics.TryRecordOutcome(true, null, 1, probability: 0.9);
        metrics.TryRecordOutcome(false, null, 0, probability: 0.2);
        metrics.TryRecordOutcome(true, null, 0, probability: 0.7);
        metrics.TryRecordOutcome(true, null, 0, probability: 1.0);
        metrics.TryRecordOutcome(true, null, 1, probability: null);

        var (_, quality) = metrics.TakeInterval(Now, 10_000)!.Value;

        // −ln 0.9, −ln 0.8, −ln 0.3, and −ln 1e-15 for a certain miss clamped away from 0; the
        // prediction without a probability adds neither loss nor a histogram count.
        double[] losses = [0.10536051565782628, 0.2231435513142097, 1.2039728043259361, 34.538776394910684];
        Assert.Equal(5, quality.Labelled);
        Assert.Equal(losses.Sum(), quality.LogLossSum, 1e-12 * losses.Sum());
        Assert.Equal(losses.Sum(l => l * l), quality.LogLossSquaredSum, 1e-12 * losses.Sum(l => l * l));
        Assert.Equal(QualityRecord.LabelledScoreBins, quality.LabelledPositiveHistogram.Count);
        Assert.Equal([90], Bins(quality.LabelledPositiveHistogram));
        Assert.Equal([20, 70, 99], Bins(quality.LabelledNegativeHistogram));
    }

    [Fact]
    public void TakeInterval_Regression_HasNoLabelledHistograms()
    {
        var metrics = Metrics(new ModelProfile(Card(ModelTasks.Regression), ["x"]));
        metrics.TryRecordOutcome(null, 10.5, 10, probability: 0.4);

        var (_, quality) = metrics.TakeInterval(Now, 10_000)!.Value;

        Assert.Empty(quality.LabelledPositiveHistogram);
        Assert.Empty(quality.LabelledNegativeHistogram);
        Assert.Equal(0, quality.LogLossSum);
        quality.ValidateShape();
    }

    [Fact]
    public void TryRecordOutcome_PairedDifferences_CountedWithTheirSumAndSquaredSum()
    {
        var metrics = Metrics(Classifier("x"));
        metrics.TryRecordOutcome(true, null, 1, pairedDifference: -1);
        metrics.TryRecordOutcome(true, null, 1, pairedDifference: 0);
        metrics.TryRecordOutcome(false, null, 1, pairedDifference: 1);
        metrics.TryRecordOutcome(false, null, 0, pairedDifference: -1);
        metrics.TryRecordOutcome(false, null, 0);

        var (_, quality) = metrics.TakeInterval(Now, 10_000)!.Value;

        Assert.Equal((5L, 4L, -1.0, 3.0), (quality.Labelled, quality.Paired, quality.PairedDifferenceSum, quality.PairedDifferenceSquaredSum));
    }

    [Fact]
    public void TryRecordComparison_Runs_AddUpAndResetWithTheInterval()
    {
        var metrics = Metrics(Classifier("x"));
        metrics.TryRecordComparison(5, 4);
        metrics.TryRecordComparison(7, 7);

        var (_, first) = metrics.TakeInterval(Now, 10_000)!.Value;
        metrics.TryRecordComparison(1, 0);
        var (_, second) = metrics.TakeInterval(Now, 10_000)!.Value;

        Assert.Equal((12L, 11L), (first.Compared, first.Agreements));
        Assert.Equal((1L, 0L), (second.Compared, second.Agreements));
        Assert.Throws<ArgumentOutOfRangeException>(() => metrics.TryRecordComparison(2, 3));
    }

    [Theory]
    [InlineData(true, true, null, 1, 0.0)]
    [InlineData(true, false, null, 1, 1.0)]
    [InlineData(true, null, null, 0, 0.0)]
    [InlineData(false, null, 12.0, 10, 2.0)]
    [InlineData(false, null, 7.5, 10, 2.5)]
    public void Loss_ClassifierOneMinusCorrectRegressionAbsoluteError(bool classifier, bool? predictedLabel, double? predictedValue, double label, double expected) =>
        Assert.Equal(expected, ModelArmMetrics.Loss(classifier, predictedLabel, predictedValue, label));

    [Fact]
    public void TryRecordOutcome_Regression_SumsErrorsAbsoluteAndSquared()
    {
        var metrics = Metrics(new ModelProfile(Card(ModelTasks.Regression), ["x"]));
        metrics.TryRecordOutcome(null, 10.5, 10);
        metrics.TryRecordOutcome(null, 7, 9);

        var (_, quality) = metrics.TakeInterval(Now, 10_000)!.Value;

        Assert.Equal(2, quality.Labelled);
        Assert.Equal((-1.5, 2.5, 4.25), (quality.ErrorSum, quality.AbsoluteErrorSum, quality.SquaredErrorSum));
        Assert.Equal((0L, 0L, 0L, 0L), (quality.TruePositives, quality.FalsePositives, quality.TrueNegatives, quality.FalseNegatives));
    }

    [Fact]
    public void TakeInterval_AfterAnIntervalWithoutEvents_RetiresAndRefusesFurtherRecords()
    {
        var metrics = Metrics(Classifier("x"));
        Run(metrics, rows: 1, latencyMs: 1);
        metrics.TakeInterval(Now, 10_000);

        var idle = metrics.TakeInterval(Now, 10_000);

        Assert.Null(idle);
        Assert.True(metrics.IsRetired);
        Assert.False(metrics.TryRecordErrors(1));
    }

    [Fact]
    public void ForModel_RetiredMetrics_ReplacedSoLaterEventsAreKept()
    {
        var scoring = new ScoringMetrics();
        var profile = Classifier("x");
        var first = scoring.ForModel(Control, () => profile);
        Run(first, rows: 2, latencyMs: 1);
        Assert.Single(scoring.TakeModelIntervals(Now, 10_000));
        Assert.Empty(scoring.TakeModelIntervals(Now, 10_000));

        var second = scoring.ForModel(Control, () => profile);
        Run(second, rows: 5, latencyMs: 1);

        Assert.NotSame(first, second);
        var (perf, _) = Assert.Single(scoring.TakeModelIntervals(Now, 10_000));
        Assert.Equal(5, perf.EventsScored);
    }

    internal static ModelProfile Classifier(string feature, FeatureBaseline? baseline = null) =>
        new(Card(ModelTasks.BinaryClassification, baseline), [feature]);

    private static ModelProfile Classifier(string first, string second) =>
        new(Card(ModelTasks.BinaryClassification), [first, second]);

    internal static ModelCard Card(string task, FeatureBaseline? baseline = null) => new(
        "sensor-anomaly",
        "3",
        task,
        [],
        [],
        new Dictionary<string, double>(),
        new ModelLineage("run", "data", "sha256:" + new string('0', 64), 1, "FastTree", new Dictionary<string, string>(), "test"),
        baseline is null ? [] : [baseline],
        Now);

    /// <summary>The bins a histogram counted something in, each once per count.</summary>
    private static int[] Bins(IReadOnlyList<long> histogram) =>
        [.. histogram.SelectMany((count, bin) => Enumerable.Repeat(bin, (int)count))];

    private static ModelArmMetrics Metrics(ModelProfile profile) => new(Control, profile, featureSampleRate: 1);

    private static void Run(ModelArmMetrics metrics, int rows, double latencyMs) =>
        Assert.True(metrics.TryRecordRun(Latencies(rows, latencyMs), new double[rows], new float[rows * metrics.Profile.FeatureNames.Count]));

    private static void Feed(ModelArmMetrics metrics, double[] values)
    {
        foreach (var chunk in values.Chunk(64))
        {
            metrics.TryRecordRun(Latencies(chunk.Length, 1), new double[chunk.Length], [.. chunk.Select(v => (float)v)]);
        }
    }

    private static TimeSpan[] Latencies(int rows, double ms) => [.. Enumerable.Repeat(TimeSpan.FromMilliseconds(ms), rows)];

    private static double PopulationVariance(float[] values)
    {
        var mean = values.Average(v => (double)v);
        return values.Sum(v => (v - mean) * (v - mean)) / values.Length;
    }

    /// <summary>Box–Muller draws from a normal distribution, seeded so the test sees the same sample every run.</summary>
    private static double[] Normal(int seed, int count, double mean, double stdDev)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ =>
            mean + (stdDev * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble())))];
    }
}
