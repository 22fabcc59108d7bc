using System.ComponentModel.DataAnnotations;
using EdgePlatform.Agent.Inference.Engine;
using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Scoring;

/// <summary>
/// How the device shares events between its control model and a candidate (section
/// <c>Inference:Arms</c>). The desired state's experiment arm is meant to drive the same
/// <see cref="InferenceEngine.SetArms"/> call later.
/// </summary>
public sealed class ArmOptions : IValidatableObject
{
    public const string Section = "Inference:Arms";

    /// <summary><see cref="ArmMode.ControlOnly"/> (default), <see cref="ArmMode.Split"/> or <see cref="ArmMode.Shadow"/>.</summary>
    public ArmMode Mode { get; set; } = ArmMode.ControlOnly;

    /// <summary>Split only: percent of keys scored by the candidate. Default 10.</summary>
    [Range(0.0, 100.0)]
    public double CandidatePercent { get; set; } = 10;

    /// <summary>Split only: the event field hashed to pick the arm. Default the correlation id.</summary>
    public string KeyField { get; set; } = EventFields.CorrelationId;

    /// <summary>The candidate's model card (JSON), with <see cref="CandidateModel"/>; both or neither.</summary>
    public string? CandidateCard { get; set; }

    /// <summary>The candidate's ONNX file.</summary>
    public string? CandidateModel { get; set; }

    public ArmPolicy ToPolicy() => Mode switch
    {
        ArmMode.Split => ArmPolicy.Split(CandidatePercent, KeyField),
        ArmMode.Shadow => ArmPolicy.Shadow(),
        _ => ArmPolicy.ControlOnly,
    };

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (string.IsNullOrWhiteSpace(KeyField))
        {
            yield return new ValidationResult("Inference:Arms:KeyField must name an event field", [nameof(KeyField)]);
        }

        if (string.IsNullOrEmpty(CandidateCard) != string.IsNullOrEmpty(CandidateModel))
        {
            yield return new ValidationResult(
                "Inference:Arms:CandidateCard and Inference:Arms:CandidateModel go together: set both to load a candidate, or neither",
                [nameof(CandidateCard), nameof(CandidateModel)]);
        }
    }
}
