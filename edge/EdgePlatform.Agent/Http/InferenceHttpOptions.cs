using System.ComponentModel.DataAnnotations;
using System.Net;

namespace EdgePlatform.Agent.Http;

/// <summary>The local Open Inference Protocol endpoint (section <c>InferenceHttp</c>).</summary>
public sealed class InferenceHttpOptions : IValidatableObject
{
    public const string Section = "InferenceHttp";

    /// <summary>Address to listen on. Default 127.0.0.1: local apps only, nothing off the device.</summary>
    [Required]
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>Default 8085; 0 picks a free port (logged at start).</summary>
    [Range(0, 65535)]
    public int Port { get; set; } = 8085;

    /// <summary>Longest an infer request waits for its rows to be scored. Default 5 seconds.</summary>
    [Range(0.001, 300.0)]
    public double RequestTimeoutSeconds { get; set; } = 5;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!IPAddress.TryParse(BindAddress, out _))
        {
            yield return new ValidationResult($"InferenceHttp:BindAddress '{BindAddress}' is not an IP address", [nameof(BindAddress)]);
        }
    }
}
