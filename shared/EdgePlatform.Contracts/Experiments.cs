namespace EdgePlatform.Contracts;

/// <summary>
/// Body of <c>POST /api/v1/experiments</c>. The first arm is the control. <see cref="Unit"/> is
/// what is assigned to an arm (<see cref="ExperimentUnits"/>): each device, each device group
/// named by the value of the tag <see cref="GroupTag"/>, or each event by the value of
/// <see cref="KeyField"/> on every device (two arms; <see cref="Mode"/> <see cref="ExperimentModes.Shadow"/>
/// scores every event with both). Where experiments and rollouts select the same device, the
/// highest <see cref="Priority"/> decides its model (the newer on a tie), as between rollouts.
/// </summary>
public sealed record CreateExperimentRequest(
    string? Name,
    IReadOnlyList<ExperimentArmRequest>? Arms,
    string? Selector,
    string? Unit,
    string? GroupTag = null,
    string? KeyField = null,
    string? Mode = null,
    ExperimentMetric? Metric = null,
    ExperimentGuardrails? Guardrails = null,
    int? Priority = null,
    DateTimeOffset? EndsAt = null,
    double? Alpha = null,
    double? SequentialTuning = null);

/// <summary>
/// An arm: its name, its model (<c>name:version</c> or <c>name@alias</c>), its share of the units
/// (weights are normalised), and where devices run its model (<see cref="ModelRuntimeKinds"/>,
/// default in-process ONNX), so an arm can compare the same model in-process and in its container.
/// </summary>
public sealed record ExperimentArmRequest(string? Name, string? Model, double? Weight = null, string? Runtime = null);

/// <summary>
/// The primary metric, from labelled feedback (<see cref="ExperimentMetricKinds"/>);
/// <see cref="Outcome"/> names the outcome whose rate <see cref="ExperimentMetricKinds.OutcomeRate"/> measures.
/// </summary>
public sealed record ExperimentMetric(string Kind, string? Outcome = null);

/// <summary>Thresholds on every arm that stop the experiment when crossed; null switches one off.</summary>
public sealed record ExperimentGuardrails(double? MaxP99LatencyMs = null, double? MaxErrorRate = null, double? MaxDriftPsi = null);

public sealed record ExperimentArm(string Name, ModelReference Model, double Weight);

/// <summary>
/// An experiment as created, with where it stands. <see cref="Salt"/> is drawn at creation and
/// fixes every unit's arm for the experiment's life. <see cref="SequentialTuning"/> is the
/// confidence sequence's tuning parameter (the sample size at which it is tightest).
/// </summary>
public sealed record ExperimentInfo(
    string Id,
    string Name,
    IReadOnlyList<ExperimentArm> Arms,
    string Selector,
    string Unit,
    string? GroupTag,
    string KeyField,
    string? Mode,
    ExperimentMetric Metric,
    ExperimentGuardrails Guardrails,
    int Priority,
    string Salt,
    double Alpha,
    double SequentialTuning,
    string State,
    DateTimeOffset CreatedAt,
    DateTimeOffset? EndsAt,
    DateTimeOffset? StoppedAt,
    string? Reason,
    string? PromotedRollout = null);

/// <summary>Body of <c>POST /api/v1/experiments/{id}/promote</c>: the arm whose model a staged rollout takes to the experiment's devices (default: the best arm, when it is significantly better than the control).</summary>
public sealed record PromoteExperimentRequest(string? Arm, IReadOnlyList<RolloutStage>? Stages = null, RolloutGates? Gates = null);

public static class ExperimentUnits
{
    public const string Device = "device";
    public const string Group = "group";
    public const string Event = "event";
}

public static class ExperimentStates
{
    public const string Running = "running";

    /// <summary>Stopped by a user, by a guardrail (the reason says which), or at its end date.</summary>
    public const string Stopped = "stopped";

    /// <summary>Stopped, and its winner promoted into a rollout.</summary>
    public const string Promoted = "promoted";
}

public static class ExperimentMetricKinds
{
    /// <summary>Share of labelled predictions that were right (classification).</summary>
    public const string Accuracy = "accuracy";

    /// <summary>Mean negative log-likelihood of the label (binary classification); lower is better.</summary>
    public const string LogLoss = "log-loss";

    /// <summary>Area under the ROC curve from the labelled score histograms (binary classification).</summary>
    public const string Auc = "auc";

    /// <summary>Mean absolute error (regression); lower is better.</summary>
    public const string Mae = "mae";

    /// <summary>Rate of a named outcome among labelled predictions (<see cref="ExperimentOutcomes"/>).</summary>
    public const string OutcomeRate = "outcome-rate";

    public static IReadOnlyList<string> All { get; } = [Accuracy, LogLoss, Auc, Mae, OutcomeRate];

    public static bool LowerIsBetter(string kind) => kind is LogLoss or Mae;
}

/// <summary>Outcomes of a labelled binary prediction whose rate an experiment can measure.</summary>
public static class ExperimentOutcomes
{
    public const string TruePositive = "true-positive";
    public const string FalsePositive = "false-positive";
    public const string TrueNegative = "true-negative";
    public const string FalseNegative = "false-negative";

    /// <summary>The label was positive (the base rate the arm saw).</summary>
    public const string PositiveLabel = "positive-label";

    /// <summary>The arm predicted positive.</summary>
    public const string PositivePrediction = "positive-prediction";

    public static IReadOnlyList<string> All { get; } = [TruePositive, FalsePositive, TrueNegative, FalseNegative, PositiveLabel, PositivePrediction];
}

/// <summary>
/// <c>GET /api/v1/experiments/{id}/report</c>: the experiment's analysis at <see cref="At"/>, after
/// <see cref="Looks"/> looks (every analysis the control plane ran counts, which is what the
/// sequential intervals allow for), and the estimate of each comparison at every look so far.
/// </summary>
public sealed record ExperimentReport(
    ExperimentInfo Experiment,
    DateTimeOffset At,
    int Looks,
    IReadOnlyList<ArmReport> Arms,
    SampleRatioReport SampleRatio,
    IReadOnlyList<MetricComparison> Comparisons,
    IReadOnlyList<GuardrailReport> Guardrails,
    ShadowReport? Shadow,
    IReadOnlyList<ComparisonLook> History);

/// <summary>
/// One arm's figures: units assigned and seen in telemetry (devices, groups or events), devices,
/// events scored, labelled predictions, the primary metric's value, and the guardrail readings.
/// </summary>
public sealed record ArmReport(
    string Arm,
    string Model,
    long Units,
    long Devices,
    long Scored,
    long Labelled,
    double? Value,
    double? P99LatencyMs,
    double? ErrorRate,
    double? DriftPsiMax);

/// <summary>Sample-ratio-mismatch check: units seen per arm against the configured shares, Pearson's chi-square; alarm below p 0.001.</summary>
public sealed record SampleRatioReport(IReadOnlyList<long> Observed, IReadOnlyList<double> ExpectedShares, double ChiSquare, int DegreesOfFreedom, double PValue, bool Alarm);

/// <summary>
/// One arm against the control on one metric: both values, the difference absolute and relative
/// with their intervals at <see cref="Level"/>, the test (<c>welch-t</c>, <c>two-proportion-z</c>,
/// <c>delta-method</c>, <c>hanley-mcneil</c>), whether the interval is a confidence sequence (valid
/// at every look) or fixed-horizon, the correction for several arms, the units each side counted,
/// and whether CUPED adjusted it.
/// </summary>
public sealed record MetricComparison(
    string Metric,
    string Arm,
    string Control,
    string Test,
    bool Sequential,
    double Level,
    string Correction,
    long ControlUnits,
    long ArmUnits,
    double ControlValue,
    double ArmValue,
    double AbsoluteDifference,
    double AbsoluteLower,
    double AbsoluteUpper,
    double RelativeDifference,
    double RelativeLower,
    double RelativeUpper,
    double? PValue,
    bool Significant,
    bool Cuped);

public sealed record GuardrailReport(string Guardrail, string Arm, double? Value, double Threshold, bool Breached);

/// <summary>Shadow mode: the arms' predictions of the same events compared: how often they agree, and the paired difference of the per-event metric on labelled events.</summary>
public sealed record ShadowReport(long Compared, long Agreements, double Agreement, long Paired, double MeanDifference, double Lower, double Upper);

/// <summary>A comparison's estimate and interval at one look, for charts of the estimate over time.</summary>
public sealed record ComparisonLook(DateTimeOffset At, string Metric, string Arm, double Estimate, double Lower, double Upper, bool Relative);

/// <summary>Body and answer of <c>POST /api/v1/experiments/power</c>: units per arm to detect <see cref="MinimumDetectableEffect"/> (absolute) on a metric at <see cref="BaselineValue"/>.</summary>
public sealed record PowerRequest(string? Metric, double? BaselineValue, double? MinimumDetectableEffect, double? StandardDeviation = null, double? Alpha = null, double? Power = null, int? Arms = null);

public sealed record PowerResult(string Metric, double BaselineValue, double MinimumDetectableEffect, double StandardDeviation, double Alpha, double Power, int Arms, long UnitsPerArm, long UnitsInAll, string Method);
