using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.Agent.Scorer;

/// <summary>The scorer mode (section <c>Scorer</c>): one model, read once at start.</summary>
public sealed class ScorerOptions : IValidatableObject
{
    public const string Section = "Scorer";

    /// <summary>The graph the scorer serves, in <see cref="ModelDirectory"/>.</summary>
    public const string ModelFileName = "model.onnx";

    /// <summary>The model card (the package's config blob), in <see cref="ModelDirectory"/>.</summary>
    public const string CardFileName = "card.json";

    /// <summary>
    /// Directory holding <see cref="ModelFileName"/> and <see cref="CardFileName"/>. Default
    /// <c>/model</c>, where a containerized model's image puts them.
    /// </summary>
    [Required]
    public string ModelDirectory { get; set; } = "/model";

    public string ModelPath => Path.Combine(ModelDirectory, ModelFileName);

    public string CardPath => Path.Combine(ModelDirectory, CardFileName);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!Directory.Exists(ModelDirectory))
        {
            yield return new ValidationResult(
                $"Scorer:ModelDirectory '{ModelDirectory}' does not exist: mount a directory holding {ModelFileName} and {CardFileName} there, or point Scorer:ModelDirectory at one",
                [nameof(ModelDirectory)]);
            yield break;
        }

        foreach (var file in new[] { ModelFileName, CardFileName })
        {
            if (!File.Exists(Path.Combine(ModelDirectory, file)))
            {
                yield return new ValidationResult($"Scorer:ModelDirectory '{ModelDirectory}' holds no {file}", [nameof(ModelDirectory)]);
            }
        }
    }
}
