using System.Globalization;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Experiments;
using EdgePlatform.ControlPlane.Experiments.Statistics;

namespace EdgePlatform.ControlPlane.Rollouts;

/// <summary>One device's labelled feedback on one version over a window: the metric's numerator and the labelled predictions.</summary>
internal readonly record struct LabelledTotals(double Numerator, long Labelled);

/// <summary>
/// What the quality gate says this tick: <see cref="Failure"/> when the new version is worse than
/// the margin allows (the rollout rolls back), otherwise <see cref="Waiting"/> while it has not yet
/// shown it is not (the stage does not open); both null once it has.
/// </summary>
internal sealed record QualityJudgement(string? Failure, string? Waiting);

/// <summary>
/// The rollout quality gate: labelled feedback on the new version against the previous version's,
/// each device one unit (its correct or absolute error over its labelled predictions, so a busy
/// device's events are not taken as independent), compared by the delta method with an
/// anytime-valid confidence sequence, which may be read at every tick without its error rate growing.
/// </summary>
internal static class QualityGate
{
    /// <summary>Devices with labelled feedback each side needs before the interval means anything.</summary>
    public const int MinDevicesPerVersion = 2;

    /// <summary>Totals per device of the records <paramref name="include"/> accepts, devices without labelled feedback left out.</summary>
    public static List<LabelledTotals> PerDevice(
        string metric, IEnumerable<(string DeviceId, QualityRecord Record)> records, Func<string, QualityRecord, bool> include)
    {
        var labelled = new ExperimentMetric(metric);
        return [.. records
            .Where(r => r.Record.Labelled > 0 && include(r.DeviceId, r.Record))
            .GroupBy(r => r.DeviceId, StringComparer.Ordinal)
            .Select(g => new LabelledTotals(g.Sum(r => LabelledMetric.Numerator(labelled, r.Record)), g.Sum(r => r.Record.Labelled)))];
    }

    /// <summary>
    /// Judges the new version's devices against the previous version's (<paramref name="basis"/>
    /// says which devices and window those are). <paramref name="tuning"/> is where the confidence
    /// sequence is tightest: the devices the rollout selects.
    /// </summary>
    public static QualityJudgement Judge(
        RolloutGates gates, int stage, IReadOnlyCollection<LabelledTotals> newVersion, IReadOnlyCollection<LabelledTotals> previous, string basis, double tuning)
    {
        ArgumentNullException.ThrowIfNull(gates);
        var metric = gates.QualityMetric ?? throw new ArgumentException("the rollout has no quality gate", nameof(gates));
        var margin = gates.QualityMargin ?? 0;
        var alpha = gates.QualityAlpha ?? QualityGateMetrics.DefaultAlpha;
        if (newVersion.Count < MinDevicesPerVersion || previous.Count < MinDevicesPerVersion)
        {
            return new QualityJudgement(null, string.Create(
                CultureInfo.InvariantCulture,
                $"stage {stage + 1} holds: the quality gate needs labelled feedback from at least {MinDevicesPerVersion} devices on each version ({newVersion.Count} on the new version, {previous.Count} on the previous: {basis})"));
        }

        var treatment = Moments(newVersion);
        var control = Moments(previous);
        var options = new TestOptions { Alpha = alpha, Sequential = true, SequentialTuning = Math.Max(MinDevicesPerVersion * 2, tuning) };
        var interval = TwoSampleTests.DeltaMethodRatio(control, treatment, EffectScale.Absolute, options);
        var higherIsBetter = metric == QualityGateMetrics.Accuracy;
        var worse = higherIsBetter ? interval.Upper < -margin : interval.Lower > margin;
        var notWorse = higherIsBetter ? interval.Lower > -margin : interval.Upper < margin;
        var bound = higherIsBetter ? -margin : margin;
        var evidence = string.Create(
            CultureInfo.InvariantCulture,
            $"{metric} {interval.TreatmentValue:0.####} on the new version against {interval.ControlValue:0.####} on the previous ({basis}): difference {interval.Estimate:0.####}, {interval.Level:0.##%} confidence sequence [{interval.Lower:0.####}, {interval.Upper:0.####}] over {newVersion.Count} and {previous.Count} devices ({treatment.DenominatorSum:0} and {control.DenominatorSum:0} labelled)");
        if (worse)
        {
            return new QualityJudgement(
                string.Create(CultureInfo.InvariantCulture, $"quality gate: {evidence} lies wholly {(higherIsBetter ? "below" : "above")} the margin {bound:0.####}"),
                null);
        }

        return notWorse
            ? new QualityJudgement(null, null)
            : new QualityJudgement(null, string.Create(
                CultureInfo.InvariantCulture,
                $"stage {stage + 1} holds: the quality gate has not yet shown the new version within the margin: {evidence} still reaches {(higherIsBetter ? "below" : "above")} {bound:0.####}"));
    }

    private static RatioMoments Moments(IEnumerable<LabelledTotals> devices)
    {
        var moments = default(RatioMoments);
        foreach (var device in devices)
        {
            moments = moments.Add(device.Numerator, device.Labelled);
        }

        return moments;
    }
}
