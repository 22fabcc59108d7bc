using System.ComponentModel.DataAnnotations;
using System.Net;

namespace EdgePlatform.Agent.Http;

/// <summary>The local Open Inference Protocol endpoint (section <c>InferenceHttp</c>).</summary>
public sealed class InferenceHttpOptions : IValidatableObject
{
    public const string Section = "InferenceHttp";

    /// <summary>
    /// Address to listen on. Default 127.0.0.1: local apps only, nothing off the device. An address
    /// beyond loopback needs <see cref="BearerTokenFile"/>, or the agent refuses to start.
    /// </summary>
    [Required]
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>Default 8085; 0 picks a free port (logged at start).</summary>
    [Range(0, 65535)]
    public int Port { get; set; } = 8085;

    /// <summary>Longest an infer request waits for its rows to be scored. Default 5 seconds.</summary>
    [Range(0.001, 300.0)]
    public double RequestTimeoutSeconds { get; set; } = 5;

    /// <summary>
    /// A file holding the token every request must carry as <c>Authorization: Bearer …</c>;
    /// unset, requests need none, which only a loopback <see cref="BindAddress"/> allows.
    /// </summary>
    public string? BearerTokenFile { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!IPAddress.TryParse(BindAddress, out var address))
        {
            yield return new ValidationResult($"InferenceHttp:BindAddress '{BindAddress}' is not an IP address", [nameof(BindAddress)]);
        }
        else if (!IPAddress.IsLoopback(address) && string.IsNullOrEmpty(BearerTokenFile))
        {
            yield return new ValidationResult(
                $"InferenceHttp:BindAddress '{BindAddress}' is beyond loopback, where any machine on the network could call the models: "
                + "set InferenceHttp:BearerTokenFile to a file holding the token clients must send, or bind InferenceHttp:BindAddress to 127.0.0.1",
                [nameof(BindAddress)]);
        }

        if (!string.IsNullOrEmpty(BearerTokenFile) && InferenceBearerToken.Problem(BearerTokenFile) is { } problem)
        {
            yield return new ValidationResult($"InferenceHttp:BearerTokenFile '{BearerTokenFile}' {problem}", [nameof(BearerTokenFile)]);
        }
    }
}
