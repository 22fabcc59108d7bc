using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Experiments;

/// <summary>
/// A device's place in an experiment: its arm, and the unit it was assigned as (its own id, its
/// group's tag value; for event-level experiments the device id, the events being the units).
/// </summary>
public sealed record ExperimentUnitAssignment(string DeviceId, string Arm, string Unit);

/// <summary>What one analysis of an experiment found at <see cref="At"/>.</summary>
public sealed record ExperimentLook(
    DateTimeOffset At,
    IReadOnlyList<ArmReport> Arms,
    SampleRatioReport SampleRatio,
    IReadOnlyList<MetricComparison> Comparisons,
    IReadOnlyList<GuardrailReport> Guardrails,
    ShadowReport? Shadow);

/// <summary>
/// Reads the telemetry of an experiment's devices since it started, maps each record to the arm
/// that produced it, and analyses the arms at the unit of assignment.
/// </summary>
public interface IExperimentAnalyzer
{
    Task<ExperimentLook> AnalyzeAsync(
        ExperimentInfo experiment, IReadOnlyList<ExperimentUnitAssignment> assignments, DateTimeOffset at, CancellationToken cancellationToken);
}
