using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Experiments.Statistics;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Telemetry;

namespace EdgePlatform.ControlPlane.Experiments;

/// <summary>
/// Reads an experiment's perf and quality records, keeps those its arms produced (a device's
/// records count for its arm only while it ran that arm's package; on event-level experiments the
/// engine's control slot with the first arm's package and its candidate slot with the second's),
/// adds them up per unit of assignment, and compares every arm with the control. The rules are in
/// docs/experiment-analysis.md.
/// </summary>
public sealed class ExperimentAnalyzer(ITelemetryStore store, ILatencyHistograms? histograms = null) : IExperimentAnalyzer
{
    /// <summary>Devices per telemetry query, well below SQLite's bound on parameters.</summary>
    internal const int DevicesPerQuery = 500;

    /// <summary>The longest pre-experiment window CUPED reads.</summary>
    public static readonly TimeSpan MaxPrePeriod = TimeSpan.FromDays(7);

    public const string P99LatencyGuardrail = "p99-latency-ms";
    public const string ErrorRateGuardrail = "error-rate";
    public const string DriftPsiGuardrail = "drift-psi";

    public async Task<ExperimentLook> AnalyzeAsync(
        ExperimentInfo experiment, IReadOnlyList<ExperimentUnitAssignment> assignments, DateTimeOffset at, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        ArgumentNullException.ThrowIfNull(assignments);
        if (experiment.Arms.Count < 2)
        {
            throw new ArgumentException($"experiment {experiment.Id} has {experiment.Arms.Count} arm(s); an analysis needs a control and at least one other", nameof(experiment));
        }

        var end = experiment.StoppedAt is { } stopped && stopped < at ? stopped : at;
        var start = experiment.CreatedAt;
        var plan = new Plan(experiment, assignments);

        var tallies = new Dictionary<(string Device, int Arm), Tally>();
        await foreach (var (device, record) in ReadQualityAsync(plan.DeviceIds, start, end, cancellationToken).ConfigureAwait(false))
        {
            if (plan.ArmOf(device, record.Arm, record.ManifestDigest) is { } arm)
            {
                Get(tallies, device, arm).AddQuality(record, experiment.Metric);
            }
        }

        await foreach (var (device, record) in ReadPerfAsync(plan.DeviceIds, start, end, cancellationToken).ConfigureAwait(false))
        {
            if (plan.ArmOf(device, record.Arm, record.ManifestDigest) is { } arm)
            {
                Get(tallies, device, arm).AddPerf(record);
            }
        }

        var arms = Enumerable.Range(0, experiment.Arms.Count).Select(i => new ArmData(experiment.Arms[i])).ToArray();
        foreach (var ((device, arm), tally) in tallies)
        {
            arms[arm].Devices.Add(device);
            var unit = plan.UnitOf(device);
            if (!arms[arm].Units.TryGetValue(unit, out var unitTally))
            {
                arms[arm].Units[unit] = unitTally = new Tally();
            }

            unitTally.Add(tally);
            arms[arm].Total.Add(tally);
        }

        var options = new TestOptions
        {
            Alpha = experiment.Alpha,
            Sequential = true,
            SequentialTuning = experiment.SequentialTuning,
            Comparisons = experiment.Arms.Count - 1,
        };
        var comparisons = new List<MetricComparison>();
        for (var i = 1; i < arms.Length; i++)
        {
            comparisons.AddRange(Compare(experiment, plan, arms[0], arms[i], options));
        }

        if (plan.ByUnit && experiment.Metric.Kind != ExperimentMetricKinds.Auc && comparisons.Count > 0)
        {
            await AddCupedAsync(experiment, plan, arms, options, comparisons, start, end, cancellationToken).ConfigureAwait(false);
        }

        var reports = arms.Select(a => ReportOf(experiment, plan, a)).ToList();
        return new ExperimentLook(
            end,
            reports,
            SampleRatio(experiment, plan, arms),
            comparisons,
            Guardrails(experiment, reports),

            plan.Shadow ? Shadow(arms[1].Total, options) : null);
    }

    private static Tally Get(Dictionary<(string, int), Tally> tallies, string device, int arm)
    {
        if (!tallies.TryGetValue((device, arm), out var tally))
        {
            tallies[(device, arm)] = tally = new Tally();
        }

        return tally;
    }

    private async IAsyncEnumerable<(string Device, QualityRecord Record)> ReadQualityAsync(
        IReadOnlyList<string> devices, DateTimeOffset from, DateTimeOffset to, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var chunk in devices.Chunk(DevicesPerQuery))
        {
            foreach (var row in await store.QueryQualityAsync(new TelemetryFilter(chunk, null, null, from, to, int.MaxValue), cancellationToken).ConfigureAwait(false))
            {
                yield return row;
            }
        }
    }

    private async IAsyncEnumerable<(string Device, PerfRecord Record)> ReadPerfAsync(
        IReadOnlyList<string> devices, DateTimeOffset from, DateTimeOffset to, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var chunk in devices.Chunk(DevicesPerQuery))
        {
            foreach (var row in await store.QueryPerfAsync(new TelemetryFilter(chunk, null, null, from, to, int.MaxValue), cancellationToken).ConfigureAwait(false))
            {
                yield return row;
            }
        }
    }

    private ArmReport ReportOf(ExperimentInfo experiment, Plan plan, ArmData arm)
    {
        var total = arm.Total;
        var value = ValueOf(experiment.Metric.Kind, total);
        var units = plan.Unit == ExperimentUnits.Event ? total.Scored : arm.Units.Count;
        return new ArmReport(
            arm.Arm.Name,
            $"{arm.Arm.Model.Name}:{arm.Arm.Model.Version}",
            units,
            arm.Devices.Count,
            total.Scored,
            total.Labelled,
            value,
            arm.Total.P99(histograms),
            total.Scored + total.Errors > 0 ? (double)total.Errors / (total.Scored + total.Errors) : null,
            total.DriftPsi());
    }

    /// <summary>The metric over everything the tally holds; null when it holds nothing the metric is measured on.</summary>
    private static double? ValueOf(string metric, Tally total) => metric == ExperimentMetricKinds.Auc
        ? Auc.FromHistograms(total.Positive, total.Negative)?.Value
        : total.Denominator > 0 ? total.Numerator / total.Denominator : null;

    private static IEnumerable<MetricComparison> Compare(ExperimentInfo experiment, Plan plan, ArmData control, ArmData arm, TestOptions options)
    {
        var metric = experiment.Metric.Kind;
        if (ValueOf(metric, control.Total) is null || ValueOf(metric, arm.Total) is null)
        {
            yield break;
        }

        MetricComparison? comparison;
        if (plan.Unit == ExperimentUnits.Event)
        {
            var c = control.Total;
            var t = arm.Total;
            if (metric == ExperimentMetricKinds.Auc)
            {
                var ca = Auc.FromHistograms(c.Positive, c.Negative)!.Value;
                var ta = Auc.FromHistograms(t.Positive, t.Negative)!.Value;
                comparison = Build(experiment, control, arm, options, ca.Count, ta.Count, scale => TwoSampleTests.Compare(
                    Auc.HanleyMcNeil, ca.Value, ca.Variance * ca.Count, ca.Count, ta.Value, ta.Variance * ta.Count, ta.Count, scale, options, double.PositiveInfinity), cuped: false);
            }
            else if (metric is ExperimentMetricKinds.Mae or ExperimentMetricKinds.LogLoss)
            {
                var cm = new SampleMoments(c.Denominator, c.Numerator, c.NumeratorSquares);
                var tm = new SampleMoments(t.Denominator, t.Numerator, t.NumeratorSquares);
                comparison = Build(experiment, control, arm, options, (long)c.Denominator, (long)t.Denominator, scale => TwoSampleTests.Welch(cm, tm, scale, options), cuped: false);
            }
            else
            {
                var cs = (long)Math.Round(c.Numerator);
                var ts = (long)Math.Round(t.Numerator);
                comparison = Build(experiment, control, arm, options, c.Labelled, t.Labelled, scale => TwoSampleTests.TwoProportion(cs, c.Labelled, ts, t.Labelled, scale, options), cuped: false);
            }
        }
        else if (metric == ExperimentMetricKinds.Auc)
        {
            var ca = AucOfUnits(control);
            var ta = AucOfUnits(arm);
            var cu = control.Units.Count;
            var tu = arm.Units.Count;

            // One unit a side has no variance between units to judge a difference by.
            comparison = ca is not { } cv || ta is not { } tv || cu < 2 || tu < 2 ? null : Build(experiment, control, arm, options, cu, tu, scale => TwoSampleTests.Compare(
                Auc.GroupedJackknife, cv.Value, cv.Variance * cu, cu, tv.Value, tv.Variance * tu, tu, scale, options, double.PositiveInfinity), cuped: false);
        }
        else
        {
            var controlRatio = RatioOf(control);
            var armRatio = RatioOf(arm);
            comparison = controlRatio.Units < 2 || armRatio.Units < 2 ? null : Build(experiment, control, arm, options, (long)controlRatio.Units, (long)armRatio.Units,
                scale => TwoSampleTests.DeltaMethodRatio(controlRatio, armRatio, scale, options), cuped: false);
        }

        if (comparison is not null)
        {
            yield return comparison;
        }
    }

    private static AucEstimate? AucOfUnits(ArmData arm) =>
        Auc.Jackknife([.. arm.Units.Values.Select(u => ((IReadOnlyList<long>)u.Positive, (IReadOnlyList<long>)u.Negative))]);

    private static RatioMoments RatioOf(ArmData arm)
    {
        var moments = default(RatioMoments);
        foreach (var unit in arm.Units.Values.Where(u => u.Denominator > 0))
        {
            moments = moments.Add(unit.Numerator, unit.Denominator);
        }

        return moments;
    }

    private static MetricComparison? Build(
        ExperimentInfo experiment, ArmData control, ArmData arm, TestOptions options, long controlUnits, long armUnits, Func<EffectScale, EffectInterval> test, bool cuped)
    {
        var absolute = test(EffectScale.Absolute);
        EffectInterval relative;
        try
        {
            relative = test(EffectScale.Relative);
        }
        catch (InvalidOperationException)
        {
            // A control value of 0 has no relative difference; the comparison is reported once it moves.
            return null;
        }

        var k = options.Comparisons;
        return new MetricComparison(
            experiment.Metric.Kind == ExperimentMetricKinds.OutcomeRate && experiment.Metric.Outcome is { } outcome ? $"{experiment.Metric.Kind}:{outcome}" : experiment.Metric.Kind,
            arm.Arm.Name,
            control.Arm.Name,
            absolute.Test,
            absolute.Sequential,
            absolute.Level,
            k > 1 ? $"bonferroni ({k})" : "none",
            controlUnits,
            armUnits,
            absolute.ControlValue,
            absolute.TreatmentValue,
            absolute.Estimate,
            absolute.Lower,
            absolute.Upper,
            relative.Estimate,
            relative.Lower,
            relative.Upper,
            absolute.PValue,
            absolute.Significant,
            cuped);
    }

    /// <summary>
    /// CUPED at the device or group unit: each unit's metric over as long a window before the
    /// start (at most <see cref="MaxPrePeriod"/>), whatever the devices ran then, as the covariate;
    /// reported when at least half of the compared units have one.
    /// </summary>
    private async Task AddCupedAsync(
        ExperimentInfo experiment, Plan plan, ArmData[] arms, TestOptions options, List<MetricComparison> comparisons,
        DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken)
    {
        var length = end - start < MaxPrePeriod ? end - start : MaxPrePeriod;
        if (length <= TimeSpan.Zero)
        {
            return;
        }

        var pre = new Dictionary<string, Tally>(StringComparer.Ordinal);
        await foreach (var (device, record) in ReadQualityAsync(plan.DeviceIds, start - length, start, cancellationToken).ConfigureAwait(false))
        {
            var unit = plan.UnitOf(device);
            if (!pre.TryGetValue(unit, out var tally))
            {
                pre[unit] = tally = new Tally();
            }

            tally.AddQuality(record, experiment.Metric);
        }

        var control = CupedUnits(arms[0], pre);
        foreach (var comparison in comparisons.ToList())
        {
            var arm = arms.First(a => a.Arm.Name == comparison.Arm);
            var treatment = CupedUnits(arm, pre);
            var all = control.Count + treatment.Count;
            var withPre = control.Count(u => u.PreDenominator > 0) + treatment.Count(u => u.PreDenominator > 0);
            if (control.Count < 2 || treatment.Count < 2 || withPre * 2 < all)
            {
                continue;
            }

            if (Build(experiment, arms[0], arm, options, control.Count, treatment.Count, scale => Cuped.Compare(control, treatment, scale, options), cuped: true) is { } adjusted)
            {
                comparisons.Add(adjusted);
            }
        }
    }

    private static List<CupedUnit> CupedUnits(ArmData arm, Dictionary<string, Tally> pre) =>
        [.. arm.Units
            .Where(u => u.Value.Denominator > 0)
            .Select(u => pre.TryGetValue(u.Key, out var before) && before.Denominator > 0
                ? new CupedUnit(u.Value.Numerator, u.Value.Denominator, before.Numerator, before.Denominator)
                : new CupedUnit(u.Value.Numerator, u.Value.Denominator, 0, 0))];

    private static SampleRatioReport SampleRatio(ExperimentInfo experiment, Plan plan, ArmData[] arms)
    {
        var shares = experiment.Arms.Select(a => a.Weight).ToList();
        if (plan.Shadow)
        {
            // Every event reaches both arms: there is no split to check.
            return new SampleRatioReport([.. arms.Select(a => a.Total.Scored)], shares, 0, arms.Length - 1, 1, false);
        }

        List<long> observed = plan.Unit == ExperimentUnits.Event
            ? [.. arms.Select(a => a.Total.Scored)]
            : [.. arms.Select(a => (long)a.Units.Count)];
        var check = SampleRatioMismatch.Check(observed, shares);
        return new SampleRatioReport(observed, shares, check.ChiSquare, check.DegreesOfFreedom, check.PValue, check.Alarm);
    }

    /// <summary>Each arm's readings, as its report states them (the latency histograms are merged once per arm), against the experiment's thresholds.</summary>
    private static List<GuardrailReport> Guardrails(ExperimentInfo experiment, IReadOnlyList<ArmReport> arms)
    {
        var guardrails = new List<GuardrailReport>();
        var limits = experiment.Guardrails;
        foreach (var arm in arms)
        {
            if (limits.MaxP99LatencyMs is { } maxP99)
            {
                Add(P99LatencyGuardrail, arm.P99LatencyMs, maxP99);
            }

            if (limits.MaxErrorRate is { } maxErrors)
            {
                Add(ErrorRateGuardrail, arm.ErrorRate, maxErrors);
            }

            if (limits.MaxDriftPsi is { } maxPsi)
            {
                Add(DriftPsiGuardrail, arm.DriftPsiMax, maxPsi);
            }

            void Add(string name, double? value, double threshold) =>
                guardrails.Add(new GuardrailReport(name, arm.Arm, value, threshold, value > threshold));
        }

        return guardrails;
    }

    /// <summary>
    /// Shadow mode: how often the arms' predicted labels agreed, and the candidate's loss minus the
    /// control's on labelled events both predicted, with its sequential interval (the events are the
    /// units). With fewer than two paired events the interval is the mean itself, as nothing bounds it yet.
    /// </summary>
    private static ShadowReport Shadow(Tally candidate, TestOptions options)
    {
        var agreement = candidate.Compared > 0 ? (double)candidate.Agreements / candidate.Compared : 0;
        var paired = candidate.PairedDifferences;
        var mean = paired.Count > 0 ? paired.Mean : 0;
        var (lower, upper) = (mean, mean);
        if (paired.Count >= 2)
        {
            var interval = PairedComparison.Compare(paired, options with { Comparisons = 1 });
            (mean, lower, upper) = (interval.Estimate, interval.Lower, interval.Upper);
        }

        return new ShadowReport(candidate.Compared, candidate.Agreements, agreement, (long)paired.Count, mean, lower, upper);
    }

    /// <summary>Which arm and unit each device's records belong to.</summary>
    private sealed class Plan
    {
        private readonly Dictionary<string, ExperimentUnitAssignment> _byDevice = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> _armIndex = new(StringComparer.Ordinal);
        private readonly string[] _digests;

        public Plan(ExperimentInfo experiment, IReadOnlyList<ExperimentUnitAssignment> assignments)
        {
            Unit = experiment.Unit;
            Shadow = experiment.Mode == ExperimentModes.Shadow;
            _digests = [.. experiment.Arms.Select(a => a.Model.ManifestDigest)];
            for (var i = 0; i < experiment.Arms.Count; i++)
            {
                _armIndex[experiment.Arms[i].Name] = i;
            }

            foreach (var assignment in assignments)
            {
                if (!_armIndex.ContainsKey(assignment.Arm) && Unit != ExperimentUnits.Event)
                {
                    throw new ArgumentException($"device {assignment.DeviceId} is assigned to arm '{assignment.Arm}', which experiment {experiment.Id} does not have", nameof(assignments));
                }

                _byDevice[assignment.DeviceId] = assignment;
            }

            DeviceIds = [.. _byDevice.Keys.Order(StringComparer.Ordinal)];
        }

        public string Unit { get; }

        public bool Shadow { get; }

        public bool ByUnit => Unit is ExperimentUnits.Device or ExperimentUnits.Group;

        public IReadOnlyList<string> DeviceIds { get; }

        public string UnitOf(string device) => Unit switch
        {
            ExperimentUnits.Group => _byDevice[device].Unit,
            _ => device,
        };

        public int? ArmOf(string device, string engineArm, string? digest)
        {
            if (digest is null || !_byDevice.TryGetValue(device, out var assignment))
            {
                return null;
            }

            if (Unit == ExperimentUnits.Event)
            {
                return engineArm switch
                {
                    Arms.Control when digest == _digests[0] => 0,
                    Arms.Candidate when digest == _digests[1] => 1,
                    _ => null,
                };
            }

            var arm = _armIndex[assignment.Arm];
            return digest == _digests[arm] ? arm : null;
        }
    }

    private sealed class ArmData(ExperimentArm arm)
    {
        public ExperimentArm Arm { get; } = arm;

        public HashSet<string> Devices { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, Tally> Units { get; } = new(StringComparer.Ordinal);

        public Tally Total { get; } = new();
    }

    /// <summary>What a device's (or unit's, or arm's) mapped records add up to.</summary>
    private sealed class Tally
    {
        public long Labelled { get; private set; }

        /// <summary>The metric's numerator over the labelled predictions: correct ones, the outcome's count, or |error| summed.</summary>
        public double Numerator { get; private set; }

        /// <summary>The metric's denominator: labelled predictions, or for log-loss those that gave a probability (the labelled histograms' total).</summary>
        public double Denominator { get; private set; }

        /// <summary>For MAE the sum of squared errors (|e|² = e²), for log-loss the sum of squared losses: the numerator's second moment over events.</summary>
        public double NumeratorSquares { get; private set; }

        public long Scored { get; private set; }

        public long Errors { get; private set; }

        public long[] Positive { get; } = new long[QualityRecord.LabelledScoreBins];

        public long[] Negative { get; } = new long[QualityRecord.LabelledScoreBins];

        public long Compared { get; private set; }

        public long Agreements { get; private set; }

        public SampleMoments PairedDifferences { get; private set; }

        private readonly Dictionary<string, long[]> _deciles = new(StringComparer.Ordinal);
        private readonly List<ReadOnlyMemory<byte>> _histograms = [];
        private double _p99Weighted;
        private long _p99Weight;
        private double? _psiMax;

        public void AddQuality(QualityRecord record, ExperimentMetric metric)
        {
            Labelled += record.Labelled;
            long withProbability = 0;
            if (record.LabelledPositiveHistogram.Count == QualityRecord.LabelledScoreBins && record.LabelledNegativeHistogram.Count == QualityRecord.LabelledScoreBins)
            {
                for (var i = 0; i < QualityRecord.LabelledScoreBins; i++)
                {
                    Positive[i] += record.LabelledPositiveHistogram[i];
                    Negative[i] += record.LabelledNegativeHistogram[i];
                    withProbability += record.LabelledPositiveHistogram[i] + record.LabelledNegativeHistogram[i];
                }
            }

            Compared += record.Compared;
            Agreements += record.Agreements;
            PairedDifferences += new SampleMoments(record.Paired, record.PairedDifferenceSum, record.PairedDifferenceSquaredSum);
            Denominator += metric.Kind == ExperimentMetricKinds.LogLoss ? withProbability : record.Labelled;
            Numerator += LabelledMetric.Numerator(metric, record);
            NumeratorSquares += LabelledMetric.NumeratorSquares(metric, record);
            if (record.DriftPsiMax is { } psi)
            {
                _psiMax = Math.Max(_psiMax ?? psi, psi);
            }

            if (record.FeatureDecileCounts.Count != record.FeatureNames.Count * QualityRecord.DriftBins || record.FeaturePsi.Count != record.FeatureNames.Count)
            {
                return;
            }

            for (var f = 0; f < record.FeatureNames.Count; f++)
            {
                // A feature without a PSI has no baseline bins: its counts measure nothing.
                if (record.FeaturePsi[f] is null)
                {
                    continue;
                }

                if (!_deciles.TryGetValue(record.FeatureNames[f], out var counts))
                {
                    _deciles[record.FeatureNames[f]] = counts = new long[QualityRecord.DriftBins];
                }

                for (var b = 0; b < QualityRecord.DriftBins; b++)
                {
                    counts[b] += record.FeatureDecileCounts[(f * QualityRecord.DriftBins) + b];
                }
            }
        }

        public void AddPerf(PerfRecord record)
        {
            Scored += record.EventsScored;
            Errors += record.Errors;
            _histograms.Add(record.LatencyHistogram);
            _p99Weighted += record.LatencyP99Ms * record.EventsScored;
            _p99Weight += record.EventsScored;
        }

        public void Add(Tally other)
        {
            Labelled += other.Labelled;
            Denominator += other.Denominator;
            Compared += other.Compared;
            Agreements += other.Agreements;
            PairedDifferences += other.PairedDifferences;
            for (var i = 0; i < QualityRecord.LabelledScoreBins; i++)
            {
                Positive[i] += other.Positive[i];
                Negative[i] += other.Negative[i];
            }

            Numerator += other.Numerator;
            NumeratorSquares += other.NumeratorSquares;
            Scored += other.Scored;
            Errors += other.Errors;
            _histograms.AddRange(other._histograms);
            _p99Weighted += other._p99Weighted;
            _p99Weight += other._p99Weight;
            if (other._psiMax is { } psi)
            {
                _psiMax = Math.Max(_psiMax ?? psi, psi);
            }

            foreach (var (feature, counts) in other._deciles)
            {
                if (!_deciles.TryGetValue(feature, out var mine))
                {
                    _deciles[feature] = mine = new long[QualityRecord.DriftBins];
                }

                for (var b = 0; b < counts.Length; b++)
                {
                    mine[b] += counts[b];
                }
            }
        }

        /// <summary>The largest PSI over features recomputed from the summed decile counts; the records' largest PSI when none has counts.</summary>
        public double? DriftPsi()
        {
            double? largest = null;
            foreach (var counts in _deciles.Values)
            {
                if (PopulationStability.FromDecileCounts(counts) is { } psi)
                {
                    largest = Math.Max(largest ?? psi, psi);
                }
            }

            return largest ?? _psiMax;
        }

        /// <summary>
        /// The 99th percentile of the merged latency histograms; where a record's histogram is
        /// missing or unreadable, the records' p99s weighted by events scored, as rollout gates read it.
        /// </summary>
        public double? P99(ILatencyHistograms? reader)
        {
            if (_p99Weight == 0)
            {
                return null;
            }

            var merged = new Dictionary<double, long>();
            foreach (var encoded in _histograms)
            {
                if (reader is null || encoded.IsEmpty || reader.Read(encoded, out _) is not { } values)
                {
                    return _p99Weighted / _p99Weight;
                }

                foreach (var (ms, count) in values)
                {
                    merged[ms] = merged.GetValueOrDefault(ms) + count;
                }
            }

            return LatencyPercentile.Of(merged, 99);
        }
    }
}
