using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Experiments;
using EdgePlatform.ControlPlane.Experiments.Statistics;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Telemetry;
using NSubstitute;

namespace EdgePlatform.ControlPlane.Tests.Experiments;

public sealed class ExperimentAnalyzerTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Now = Start.AddDays(2);

    private readonly List<(string Device, QualityRecord Record)> _quality = [];
    private readonly List<(string Device, PerfRecord Record)> _perf = [];
    private readonly ITelemetryStore _store = Substitute.For<ITelemetryStore>();

    public ExperimentAnalyzerTests()
    {
        _store.QueryQualityAsync(Arg.Any<TelemetryFilter>(), Arg.Any<CancellationToken>())
            .Returns(call => (IReadOnlyList<(string, QualityRecord)>)[.. _quality.Where(r => Matches(call.Arg<TelemetryFilter>(), r.Device, r.Record.Timestamp))]);
        _store.QueryPerfAsync(Arg.Any<TelemetryFilter>(), Arg.Any<CancellationToken>())
            .Returns(call => (IReadOnlyList<(string, PerfRecord)>)[.. _perf.Where(r => Matches(call.Arg<TelemetryFilter>(), r.Device, r.Record.Timestamp))]);
    }

    [Fact]
    public async Task Analyze_DeviceSwitchedArms_OnlyRecordsOfTheArmsPackageCount()
    {
        var experiment = Experiment(ExperimentUnits.Device, ("a", 1), ("b", 1));
        AddQuality("d1", Start.AddHours(1), "sha256:a", labelled: 100, correct: 100); // before it switched to b
        AddQuality("d1", Start.AddHours(3), "sha256:b", labelled: 50, correct: 25);
        AddQuality("d1", Start.AddHours(-3), "sha256:b", labelled: 70, correct: 70); // before the experiment
        AddQuality("d2", Start.AddHours(3), "sha256:a", labelled: 40, correct: 30);
        AddPerf("d1", Start.AddHours(1), "sha256:a", scored: 500);
        AddPerf("d1", Start.AddHours(3), "sha256:b", scored: 60);

        var look = await Analyzer().AnalyzeAsync(experiment, [new("d1", "b", "d1"), new("d2", "a", "d2")], Now, CancellationToken.None);

        var b = look.Arms.Single(a => a.Arm == "b");
        Assert.Equal(50, b.Labelled);
        Assert.Equal(60, b.Scored);
        Assert.Equal(0.5, b.Value!.Value, 12);
        Assert.Equal(1, b.Units);
        var a = look.Arms.Single(a => a.Arm == "a");
        Assert.Equal(40, a.Labelled);
        Assert.Equal(0.75, a.Value!.Value, 12);
    }

    [Fact]
    public async Task Analyze_GroupUnit_EachGroupIsOneUnitOfTheDeltaMethod()
    {
        var experiment = Experiment(ExperimentUnits.Group, ("a", 1), ("b", 1));
        List<ExperimentUnitAssignment> assignments = [];
        var expected = new Dictionary<string, RatioMoments> { ["a"] = default, ["b"] = default };
        var random = new Random(7);
        foreach (var (arm, group) in new[] { ("a", "s1"), ("a", "s2"), ("a", "s3"), ("b", "s4"), ("b", "s5"), ("b", "s6") })
        {
            double correct = 0, labelled = 0;
            for (var d = 0; d < 2; d++)
            {
                var device = $"{group}-{d}";
                var n = 50 + random.Next(50);
                var k = random.Next(n);
                assignments.Add(new(device, arm, group));
                AddQuality(device, Start.AddHours(1), $"sha256:{arm}", n, k);
                correct += k;
                labelled += n;
            }

            expected[arm] = expected[arm].Add(correct, labelled);
        }

        var look = await Analyzer().AnalyzeAsync(experiment, assignments, Now, CancellationToken.None);

        Assert.All(look.Arms, a => Assert.Equal(3, a.Units));
        Assert.All(look.Arms, a => Assert.Equal(6, a.Devices));
        Assert.Equal([3L, 3L], look.SampleRatio.Observed);
        var comparison = Assert.Single(look.Comparisons);
        Assert.Equal(TwoSampleTests.DeltaMethod, comparison.Test);
        Assert.Equal((3L, 3L), (comparison.ControlUnits, comparison.ArmUnits));
        var reference = TwoSampleTests.DeltaMethodRatio(expected["a"], expected["b"], EffectScale.Absolute, new TestOptions { SequentialTuning = 5000 });
        Assert.Equal(reference.Estimate, comparison.AbsoluteDifference, 12);
        Assert.Equal(reference.Lower, comparison.AbsoluteLower, 12);
        Assert.Equal(reference.Upper, comparison.AbsoluteUpper, 12);

        // The same devices analysed as devices are six units a side: a different, narrower-looking test.
        var byDevice = await Analyzer().AnalyzeAsync(experiment with { Unit = ExperimentUnits.Device }, assignments, Now, CancellationToken.None);
        Assert.Equal(6, Assert.Single(byDevice.Comparisons).ArmUnits);
    }

    [Fact]
    public async Task Analyze_EventUnit_TwoProportionMatchesHandComputation()
    {
        // Reference (numpy, GrowthBook's asymptotic confidence sequence, α 0.05, tuning 5000, N 2000):
        // p_c 0.4, p_t 0.46, var = .4·.6/1000 + .46·.54/1000 → difference 0.06 in [−0.009034811185, 0.129034811185];
        // relative 0.15 in [−0.035759825301, 0.335759825301].
        var experiment = Experiment(ExperimentUnits.Event, ("control", 1), ("candidate", 1));
        AddQuality("d1", Start.AddHours(1), "sha256:control", 600, 240, engineArm: Arms.Control);
        AddQuality("d2", Start.AddHours(1), "sha256:control", 400, 160, engineArm: Arms.Control);
        AddQuality("d1", Start.AddHours(1), "sha256:candidate", 500, 230, engineArm: Arms.Candidate);
        AddQuality("d2", Start.AddHours(1), "sha256:candidate", 500, 230, engineArm: Arms.Candidate);
        AddQuality("d2", Start.AddHours(1), "sha256:candidate", 500, 0, engineArm: Arms.Control); // wrong slot for its package

        var look = await Analyzer().AnalyzeAsync(experiment, [new("d1", "control", "d1"), new("d2", "control", "d2")], Now, CancellationToken.None);

        var c = Assert.Single(look.Comparisons);
        Assert.Equal(TwoSampleTests.TwoProportionZ, c.Test);
        Assert.Equal((1000L, 1000L), (c.ControlUnits, c.ArmUnits));
        Assert.Equal(0.06, c.AbsoluteDifference, 1e-12);
        Assert.Equal(-0.009034811185042874, c.AbsoluteLower, 1e-9);
        Assert.Equal(0.12903481118504287, c.AbsoluteUpper, 1e-9);
        Assert.Equal(0.15, c.RelativeDifference, 1e-12);
        Assert.Equal(-0.03575982530080918, c.RelativeLower, 1e-9);
        Assert.Equal(0.335759825300809, c.RelativeUpper, 1e-9);
        Assert.True(c.Sequential);
        Assert.Equal("none", c.Correction);
        Assert.Equal(0.95, c.Level, 12);
        Assert.False(c.Significant);
    }

    [Fact]
    public async Task Analyze_EventUnitMae_WelchFromSumsAndSquaredSums()
    {
        var experiment = Experiment(ExperimentUnits.Event, ("control", 1), ("candidate", 1)) with { Metric = new ExperimentMetric(ExperimentMetricKinds.Mae) };
        AddQuality("d1", Start.AddHours(1), "sha256:control", 100, 0, absoluteErrors: 120, squaredErrors: 200, engineArm: Arms.Control);
        AddQuality("d1", Start.AddHours(1), "sha256:candidate", 100, 0, absoluteErrors: 90, squaredErrors: 130, engineArm: Arms.Candidate);

        var look = await Analyzer().AnalyzeAsync(experiment, [new("d1", "control", "d1")], Now, CancellationToken.None);

        var c = Assert.Single(look.Comparisons);
        var reference = TwoSampleTests.Welch(new SampleMoments(100, 120, 200), new SampleMoments(100, 90, 130), EffectScale.Absolute, new TestOptions());
        Assert.Equal(TwoSampleTests.WelchT, c.Test);
        Assert.Equal(-0.3, c.AbsoluteDifference, 1e-12);
        Assert.Equal(reference.Lower, c.AbsoluteLower, 1e-12);
        Assert.Equal(1.2, look.Arms[0].Value!.Value, 12);
    }

    [Fact]
    public async Task Analyze_55To45SplitOf2000DevicesConfigured5050_RaisesSrmAlarm()
    {
        var experiment = Experiment(ExperimentUnits.Device, ("a", 1), ("b", 1));
        var assignments = Enumerable.Range(0, 2000).Select(i => new ExperimentUnitAssignment($"d{i}", i < 1100 ? "a" : "b", $"d{i}")).ToList();
        foreach (var assignment in assignments)
        {
            AddPerf(assignment.DeviceId, Start.AddHours(1), $"sha256:{assignment.Arm}", scored: 10);
        }

        var look = await Analyzer().AnalyzeAsync(experiment, assignments, Now, CancellationToken.None);

        // scipy.stats.chisquare([1100, 900], [1000, 1000]) → 20.0, p 7.744216431044088e-06.
        Assert.Equal([1100L, 900L], look.SampleRatio.Observed);
        Assert.Equal(20.0, look.SampleRatio.ChiSquare, 1e-9);
        Assert.Equal(7.744216431044088e-06, look.SampleRatio.PValue, 1e-9);
        Assert.True(look.SampleRatio.Alarm);
    }

    [Fact]
    public async Task Analyze_EvenSplit_NoSrmAlarm()
    {
        var experiment = Experiment(ExperimentUnits.Device, ("a", 1), ("b", 1));
        var assignments = Enumerable.Range(0, 2000).Select(i => new ExperimentUnitAssignment($"d{i}", i < 1010 ? "a" : "b", $"d{i}")).ToList();
        foreach (var assignment in assignments)
        {
            AddPerf(assignment.DeviceId, Start.AddHours(1), $"sha256:{assignment.Arm}", scored: 10);
        }

        var look = await Analyzer().AnalyzeAsync(experiment, assignments, Now, CancellationToken.None);

        Assert.False(look.SampleRatio.Alarm);
    }

    [Fact]
    public async Task Analyze_SlowArm_BreachesP99FromMergedHistograms()
    {
        var experiment = Experiment(ExperimentUnits.Device, ("a", 1), ("b", 1)) with { Guardrails = new ExperimentGuardrails(MaxP99LatencyMs: 200) };
        var reader = new FakeHistograms();

        // Arm b: two devices whose own p99s are low but whose merged latencies have 2 % at 250 ms.
        AddPerf("d1", Start.AddHours(1), "sha256:a", scored: 100, p99: 20, histogram: reader.Add((10, 99), (20, 1)));
        AddPerf("d2", Start.AddHours(1), "sha256:b", scored: 100, p99: 10, histogram: reader.Add((10, 100)));
        AddPerf("d3", Start.AddHours(1), "sha256:b", scored: 100, p99: 250, histogram: reader.Add((10, 96), (250, 4)));

        var look = await Analyzer(reader).AnalyzeAsync(
            experiment, [new("d1", "a", "d1"), new("d2", "b", "d2"), new("d3", "b", "d3")], Now, CancellationToken.None);

        var a = look.Guardrails.Single(g => g.Arm == "a" && g.Guardrail == ExperimentAnalyzer.P99LatencyGuardrail);
        var b = look.Guardrails.Single(g => g.Arm == "b" && g.Guardrail == ExperimentAnalyzer.P99LatencyGuardrail);
        Assert.Equal(10, a.Value!.Value, 12);
        Assert.False(a.Breached);
        Assert.Equal(250, b.Value!.Value, 12);
        Assert.True(b.Breached);
    }

    [Fact]
    public async Task Analyze_ArmWithErrors_BreachesErrorRate()
    {
        var experiment = Experiment(ExperimentUnits.Device, ("a", 1), ("b", 1)) with { Guardrails = new ExperimentGuardrails(MaxErrorRate: 0.05) };
        AddPerf("d1", Start.AddHours(1), "sha256:a", scored: 99, errors: 1);
        AddPerf("d2", Start.AddHours(1), "sha256:b", scored: 90, errors: 10);

        var look = await Analyzer().AnalyzeAsync(experiment, [new("d1", "a", "d1"), new("d2", "b", "d2")], Now, CancellationToken.None);

        Assert.Equal([false, true], look.Guardrails.Select(g => g.Breached));
        Assert.Equal(0.1, look.Guardrails[1].Value!.Value, 12);
        Assert.Equal(0.1, look.Arms[1].ErrorRate!.Value, 12);
    }

    [Fact]
    public async Task Analyze_DriftRecomputedFromSummedDecileCounts()
    {
        var experiment = Experiment(ExperimentUnits.Device, ("a", 1), ("b", 1)) with { Guardrails = new ExperimentGuardrails(MaxDriftPsi: 0.2) };

        // Each device alone is skewed; together they are [5, 10, …, 10, 15]: numpy PSI 0.05493061443340547.
        AddQuality("d1", Start.AddHours(1), "sha256:b", 0, 0, deciles: [5, 10, 10, 10, 10, 0, 0, 0, 0, 0]);
        AddQuality("d2", Start.AddHours(1), "sha256:b", 0, 0, deciles: [0, 0, 0, 0, 0, 10, 10, 10, 10, 15]);
        AddQuality("d3", Start.AddHours(1), "sha256:a", 0, 0, deciles: [0, 0, 0, 0, 0, 0, 0, 0, 0, 50]);

        var look = await Analyzer().AnalyzeAsync(
            experiment, [new("d1", "b", "d1"), new("d2", "b", "d2"), new("d3", "a", "d3")], Now, CancellationToken.None);

        Assert.Equal(0.05493061443340547, look.Arms[1].DriftPsiMax!.Value, 1e-12);
        Assert.False(look.Guardrails[1].Breached);
        Assert.Equal(8.283089355027482, look.Arms[0].DriftPsiMax!.Value, 1e-9);
        Assert.True(look.Guardrails[0].Breached);
    }

    [Fact]
    public async Task Analyze_ThreeArms_BonferroniOverTwoComparisons()
    {
        var experiment = Experiment(ExperimentUnits.Device, ("control", 1), ("b", 1), ("c", 1));
        List<ExperimentUnitAssignment> assignments = [];
        foreach (var arm in new[] { "control", "b", "c" })
        {
            for (var d = 0; d < 4; d++)
            {
                assignments.Add(new($"{arm}{d}", arm, $"{arm}{d}"));
                AddQuality($"{arm}{d}", Start.AddHours(1), $"sha256:{arm}", 100, 60 + (d * 5) + (arm == "c" ? 10 : 0));
            }
        }

        var look = await Analyzer().AnalyzeAsync(experiment, assignments, Now, CancellationToken.None);

        Assert.Equal(["b", "c"], look.Comparisons.Select(c => c.Arm));
        Assert.All(look.Comparisons, c => Assert.Equal("bonferroni (2)", c.Correction));
        Assert.All(look.Comparisons, c => Assert.Equal(0.975, c.Level, 12));
        Assert.All(look.Comparisons, c => Assert.Equal("control", c.Control));
        Assert.Equal(2, look.SampleRatio.DegreesOfFreedom);
    }

    [Fact]
    public async Task Analyze_ArmWithoutLabels_HasNoValueAndNoComparison()
    {
        var experiment = Experiment(ExperimentUnits.Device, ("a", 1), ("b", 1));
        AddQuality("d1", Start.AddHours(1), "sha256:a", 100, 60);
        AddQuality("d2", Start.AddHours(1), "sha256:a", 100, 70);
        AddPerf("d3", Start.AddHours(1), "sha256:b", scored: 100);
        AddPerf("d4", Start.AddHours(1), "sha256:b", scored: 100);

        var look = await Analyzer().AnalyzeAsync(
            experiment, [new("d1", "a", "d1"), new("d2", "a", "d2"), new("d3", "b", "d3"), new("d4", "b", "d4")], Now, CancellationToken.None);

        Assert.Null(look.Arms[1].Value);
        Assert.Equal(2, look.Arms[1].Units);
        Assert.Empty(look.Comparisons);
    }

    [Fact]
    public async Task Analyze_StoppedExperiment_IgnoresRecordsAfterTheStop()
    {
        var experiment = Experiment(ExperimentUnits.Device, ("a", 1), ("b", 1)) with { StoppedAt = Start.AddHours(2) };
        AddQuality("d1", Start.AddHours(1), "sha256:a", 10, 5);
        AddQuality("d1", Start.AddHours(3), "sha256:a", 10, 10);

        var look = await Analyzer().AnalyzeAsync(experiment, [new("d1", "a", "d1")], Now, CancellationToken.None);

        Assert.Equal(10, look.Arms[0].Labelled);
        Assert.Equal(Start.AddHours(2), look.At);
    }

    [Fact]
    public async Task Analyze_EventUnitLogLoss_WelchOverPredictionsWithAProbability()
    {
        var experiment = Experiment(ExperimentUnits.Event, ("control", 1), ("candidate", 1)) with { Metric = new ExperimentMetric(ExperimentMetricKinds.LogLoss) };
        _quality.Add(("d1", Quality(Start.AddHours(1), "sha256:control", Arms.Control, 120) with { LogLossSum = 60, LogLossSquaredSum = 80, LabelledPositiveHistogram = Bins((10, 40)), LabelledNegativeHistogram = Bins((90, 60)) }));
        _quality.Add(("d1", Quality(Start.AddHours(1), "sha256:candidate", Arms.Candidate, 120) with { LogLossSum = 50, LogLossSquaredSum = 60, LabelledPositiveHistogram = Bins((10, 40)), LabelledNegativeHistogram = Bins((90, 60)) }));

        var look = await Analyzer().AnalyzeAsync(experiment, [new("d1", "control", "d1")], Now, CancellationToken.None);

        // 100 labelled predictions gave a probability (the histograms' total), not the 120 labelled.
        var c = Assert.Single(look.Comparisons);
        var reference = TwoSampleTests.Welch(new SampleMoments(100, 60, 80), new SampleMoments(100, 50, 60), EffectScale.Absolute, new TestOptions());
        Assert.Equal(TwoSampleTests.WelchT, c.Test);
        Assert.Equal((100L, 100L), (c.ControlUnits, c.ArmUnits));
        Assert.Equal(-0.1, c.AbsoluteDifference, 1e-12);
        Assert.Equal(reference.Lower, c.AbsoluteLower, 1e-12);
        Assert.Equal(reference.Upper, c.AbsoluteUpper, 1e-12);
        Assert.Equal(0.6, look.Arms[0].Value!.Value, 12);
    }

    [Fact]
    public async Task Analyze_EventUnitAuc_HanleyMcNeilFromSummedHistograms()
    {
        var experiment = Experiment(ExperimentUnits.Event, ("control", 1), ("candidate", 1)) with { Metric = new ExperimentMetric(ExperimentMetricKinds.Auc) };

        // Control: positives half above all negatives, half tied with them (AUC 0.75); candidate separates them (AUC 1).
        _quality.Add(("d1", Quality(Start.AddHours(1), "sha256:control", Arms.Control, 200) with { LabelledPositiveHistogram = Bins((50, 50), (80, 50)), LabelledNegativeHistogram = Bins((50, 100)) }));
        _quality.Add(("d2", Quality(Start.AddHours(1), "sha256:candidate", Arms.Candidate, 200) with { LabelledPositiveHistogram = Bins((80, 100)), LabelledNegativeHistogram = Bins((20, 100)) }));

        var look = await Analyzer().AnalyzeAsync(experiment, [new("d1", "control", "d1"), new("d2", "control", "d2")], Now, CancellationToken.None);

        var c = Assert.Single(look.Comparisons);
        Assert.Equal(Auc.HanleyMcNeil, c.Test);
        Assert.Equal(0.75, c.ControlValue, 12);
        Assert.Equal(1.0, c.ArmValue, 12);
        Assert.Equal((200L, 200L), (c.ControlUnits, c.ArmUnits));
        Assert.True(c.Significant);
    }

    [Fact]
    public async Task Analyze_DeviceUnitAuc_GroupedJackknifeOverDevices()
    {
        var experiment = Experiment(ExperimentUnits.Device, ("a", 1), ("b", 1)) with { Metric = new ExperimentMetric(ExperimentMetricKinds.Auc) };
        List<ExperimentUnitAssignment> assignments = [];
        var units = new Dictionary<string, List<(IReadOnlyList<long>, IReadOnlyList<long>)>> { ["a"] = [], ["b"] = [] };
        var random = new Random(11);
        foreach (var arm in new[] { "a", "b" })
        {
            for (var d = 0; d < 5; d++)
            {
                var positive = Bins((60 + random.Next(30), 10 + random.Next(20)), (40, 5 + random.Next(5)));
                var negative = Bins((30 + random.Next(30), 10 + random.Next(20)), (70, 3 + random.Next(5)));
                assignments.Add(new($"{arm}{d}", arm, $"{arm}{d}"));
                _quality.Add(($"{arm}{d}", Quality(Start.AddHours(1), $"sha256:{arm}", Arms.Control, 50) with { LabelledPositiveHistogram = positive, LabelledNegativeHistogram = negative }));
                units[arm].Add((positive, negative));
            }
        }

        var look = await Analyzer().AnalyzeAsync(experiment, assignments, Now, CancellationToken.None);

        var c = Assert.Single(look.Comparisons);
        var ca = Auc.Jackknife(units["a"])!.Value;
        var ta = Auc.Jackknife(units["b"])!.Value;
        var reference = TwoSampleTests.Compare(Auc.GroupedJackknife, ca.Value, ca.Variance * 5, 5, ta.Value, ta.Variance * 5, 5, EffectScale.Absolute, new TestOptions(), double.PositiveInfinity);
        Assert.Equal(Auc.GroupedJackknife, c.Test);
        Assert.Equal((5L, 5L), (c.ControlUnits, c.ArmUnits));
        Assert.Equal(reference.Estimate, c.AbsoluteDifference, 12);
        Assert.Equal(reference.Lower, c.AbsoluteLower, 12);
    }

    [Fact]
    public async Task Analyze_Shadow_ReportsAgreementAndPairedDifference()
    {
        var experiment = Experiment(ExperimentUnits.Event, ("control", 1), ("candidate", 1)) with { Mode = ExperimentModes.Shadow };
        AddQuality("d1", Start.AddHours(1), "sha256:control", 400, 300, engineArm: Arms.Control);
        _quality.Add(("d1", Quality(Start.AddHours(1), "sha256:candidate", Arms.Candidate, 400) with
        {
            Compared = 1000, Agreements = 900, Paired = 300, PairedDifferenceSum = -10, PairedDifferenceSquaredSum = 90,
        }));
        _quality.Add(("d2", Quality(Start.AddHours(1), "sha256:candidate", Arms.Candidate, 0) with
        {
            Compared = 200, Agreements = 100, Paired = 100, PairedDifferenceSum = -10, PairedDifferenceSquaredSum = 60,
        }));
        AddPerf("d1", Start.AddHours(1), "sha256:control", scored: 900);

        var look = await Analyzer().AnalyzeAsync(experiment, [new("d1", "control", "d1"), new("d2", "control", "d2")], Now, CancellationToken.None);

        // numpy: n 400, mean −0.05, one-sample variance (150 − 20²/400)/399, confidence sequence
        // α 0.05, tuning 5000, N 400 → [−0.17484197257356637, 0.07484197257356638].
        var shadow = look.Shadow!;
        Assert.Equal((1200L, 1000L, 400L), (shadow.Compared, shadow.Agreements, shadow.Paired));
        Assert.Equal(1000.0 / 1200, shadow.Agreement, 12);
        Assert.Equal(-0.05, shadow.MeanDifference, 12);
        Assert.Equal(-0.17484197257356637, shadow.Lower, 1e-9);
        Assert.Equal(0.07484197257356638, shadow.Upper, 1e-9);
        Assert.False(look.SampleRatio.Alarm);
        Assert.Equal(1, look.SampleRatio.PValue);
    }

    [Fact]
    public async Task Analyze_UnitsWithPrePeriodData_AddACupedComparison()
    {
        var experiment = Experiment(ExperimentUnits.Device, ("a", 1), ("b", 1));
        List<ExperimentUnitAssignment> assignments = [];
        var random = new Random(5);
        for (var d = 0; d < 40; d++)
        {
            var arm = d % 2 == 0 ? "a" : "b";
            var skill = 0.4 + (0.4 * random.NextDouble());
            assignments.Add(new($"d{d}", arm, $"d{d}"));
            AddQuality($"d{d}", Start.AddHours(-5), "sha256:old", 100, (long)(skill * 100)); // before the start, any package
            AddQuality($"d{d}", Start.AddHours(5), $"sha256:{arm}", 100, (long)(skill * 100) + (arm == "b" ? 3 : 0));
        }

        var look = await Analyzer().AnalyzeAsync(experiment, assignments, Start.AddHours(10), CancellationToken.None);

        Assert.Equal(2, look.Comparisons.Count);
        var plain = look.Comparisons.Single(c => !c.Cuped);
        var cuped = look.Comparisons.Single(c => c.Cuped);
        Assert.Equal(Cuped.Test, cuped.Test);
        Assert.True(cuped.AbsoluteUpper - cuped.AbsoluteLower < (plain.AbsoluteUpper - plain.AbsoluteLower) / 2);
        Assert.Equal(0.03, cuped.AbsoluteDifference, 1e-9);
    }

    [Fact]
    public void PopulationStability_MatchesNumpy()
    {
        // numpy: a = max(c / c.sum(), 1e-4); sum((a − 0.1) · ln(a / 0.1)).
        Assert.Equal(0.05493061443340547, PopulationStability.FromDecileCounts([5, 10, 10, 10, 10, 10, 10, 10, 10, 15])!.Value, 1e-12);
        Assert.Null(PopulationStability.FromDecileCounts(new long[10]));
        Assert.Throws<ArgumentException>(() => PopulationStability.FromDecileCounts([1, 2]));
    }

    private ExperimentAnalyzer Analyzer(ILatencyHistograms? reader = null) => new(_store, reader);

    private static ExperimentInfo Experiment(string unit, params (string Name, double Weight)[] arms) => new(
        "e1",
        "test",
        [.. arms.Select(a => new ExperimentArm(a.Name, new ModelReference("models", "m", a.Name, $"sha256:{a.Name}", 100, "sig"), a.Weight))],
        "site=x",
        unit,
        unit == ExperimentUnits.Group ? "site" : null,
        "id",
        unit == ExperimentUnits.Event ? ExperimentModes.Split : null,
        new ExperimentMetric(ExperimentMetricKinds.Accuracy),
        new ExperimentGuardrails(),
        0,
        "salt",
        0.05,
        5000,
        ExperimentStates.Running,
        Start,
        null,
        null,
        null);

    private void AddQuality(
        string device, DateTimeOffset at, string digest, long labelled, long correct, double absoluteErrors = 0, double squaredErrors = 0,
        string engineArm = Arms.Control, long[]? deciles = null) =>
        _quality.Add((device, new QualityRecord(
            _quality.Count, at, "m", digest[7..], digest, engineArm, labelled, 0.5, [], [],
            deciles is null ? [] : ["x"], deciles is null ? [] : [deciles.Sum()], deciles is null ? [] : [0.0], deciles is null ? [] : [1.0],
            deciles is null ? [] : [0.0], deciles is null ? [] : [1.0], deciles is null ? [] : [0.1], deciles ?? [], deciles is null ? null : 0.1,
            labelled, correct / 2, 0, correct - (correct / 2), labelled - correct, 0, absoluteErrors, squaredErrors)));

    private void AddPerf(string device, DateTimeOffset at, string digest, long scored, long errors = 0, double p99 = 5, byte[]? histogram = null) =>
        _perf.Add((device, new PerfRecord(
            _perf.Count, at, 60_000, "m", digest[7..], digest, Arms.Control, scored + errors, scored, errors, 0, 0,
            1, 2, p99, p99, 1, histogram ?? [], 1, 1, 1, [1])));

    private static QualityRecord Quality(DateTimeOffset at, string digest, string engineArm, long labelled) => new(
        0, at, "m", digest[7..], digest, engineArm, labelled, 0.5, [], [], [], [], [], [], [], [], [], [], null, labelled, 0, 0, 0, 0, 0, 0, 0);

    private static long[] Bins(params (int Bin, long Count)[] counts)
    {
        var bins = new long[QualityRecord.LabelledScoreBins];
        foreach (var (bin, count) in counts)
        {
            bins[bin] += count;
        }

        return bins;
    }

    private static bool Matches(TelemetryFilter filter, string device, DateTimeOffset at) =>
        (filter.DeviceIds is null || filter.DeviceIds.Contains(device)) && (filter.From is null || at >= filter.From) && (filter.To is null || at < filter.To);

    /// <summary>Histograms by a one-byte handle, each a list of (ms, count).</summary>
    private sealed class FakeHistograms : ILatencyHistograms
    {
        private readonly List<(double Ms, long Count)[]> _histograms = [];

        public byte[] Add(params (double Ms, long Count)[] values)
        {
            _histograms.Add(values);
            return [(byte)(_histograms.Count - 1)];
        }

        public IReadOnlyList<(double Ms, long Count)>? Read(ReadOnlyMemory<byte> encoded, out string? problem)
        {
            problem = null;
            return _histograms[encoded.Span[0]];
        }
    }
}
