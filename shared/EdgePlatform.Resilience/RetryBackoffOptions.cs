using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.Resilience;

/// <summary>
/// How a retry loop paces itself: the pause after the first failure, doubling after each further
/// one up to <see cref="MaxDelay"/>, and, with <see cref="UseJitter"/>, each pause drawn at random
/// around that curve so that clients which failed together do not retry together. Each loop
/// declares its own defaults where its options are bound; these are the defaults of a bare instance.
/// </summary>
public sealed class RetryBackoffOptions : IValidatableObject
{
    /// <summary>The pause before the first retry (the mean of it, with jitter). Default 1 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00", ParseLimitsInInvariantCulture = true)]
    public TimeSpan FirstDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest pause between two tries, jitter included. Default 30 s.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00", ParseLimitsInInvariantCulture = true)]
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Spread the pauses at random (each drawn from the upper half of the doubling curve, below the
    /// cap too; see <see cref="RetryPipelines.JitteredDelay"/>) instead of exactly doubling them. Default
    /// true; turn it off only where a single client must retry on a predictable schedule.
    /// </summary>
    public bool UseJitter { get; set; } = true;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (MaxDelay < FirstDelay)
        {
            yield return new ValidationResult(
                $"MaxDelay ({MaxDelay}) must not be shorter than FirstDelay ({FirstDelay})",
                [nameof(MaxDelay), nameof(FirstDelay)]);
        }
    }
}

/// <summary>
/// Validates a nested <see cref="RetryBackoffOptions"/> property of an options class, which
/// <c>ValidateDataAnnotations</c> would otherwise not look into; failures name the property.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ValidBackoffAttribute : ValidationAttribute
{
    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext)
    {
        ArgumentNullException.ThrowIfNull(validationContext);
        if (value is not RetryBackoffOptions backoff)
        {
            return value is null
                ? new ValidationResult($"{validationContext.DisplayName} is required", MemberOf(validationContext))
                : ValidationResult.Success;
        }

        var problems = new List<ValidationResult>();
        if (Validator.TryValidateObject(backoff, new ValidationContext(backoff), problems, validateAllProperties: true))
        {
            return ValidationResult.Success;
        }

        return new ValidationResult(
            $"{validationContext.DisplayName}: {string.Join("; ", problems.Select(p => p.ErrorMessage))}",
            MemberOf(validationContext));
    }

    private static string[] MemberOf(ValidationContext context) => context.MemberName is { } member ? [member] : [];
}
