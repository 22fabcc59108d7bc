using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.Agent.Docker;

/// <summary>How the agent reaches the container engine and what it allows a model's container.</summary>
public sealed class DockerOptions : IValidatableObject
{
    public const string Section = "Docker";

    /// <summary>The Docker Engine API endpoint: <c>unix:///path</c> or <c>tcp://host:port</c>. Default: unix:///var/run/docker.sock.</summary>
    [Required]
    public string Endpoint { get; set; } = "unix:///var/run/docker.sock";

    /// <summary>Memory a model's container may use, in MiB (also its swap limit, so it never swaps). Default: 512.</summary>
    [Range(16, 1 << 20)]
    public int MemoryLimitMb { get; set; } = 512;

    /// <summary>CPUs a model's container may use (fractions allowed). Default: 1.</summary>
    [Range(0.01, 1024)]
    public double CpuLimit { get; set; } = 1;

    /// <summary>Processes a model's container may run. Default: 256.</summary>
    [Range(16, 1 << 20)]
    public int PidsLimit { get; set; } = 256;

    /// <summary>How long a new container has to report healthy before its stage fails. Default: 60 s.</summary>
    [Range(1, 3600)]
    public int HealthTimeoutSeconds { get; set; } = 60;

    /// <summary>How often the engine runs a container's health check while it runs. Default: 1000 ms.</summary>
    [Range(10, 600_000)]
    public int HealthCheckIntervalMs { get; set; } = 1000;

    /// <summary>How long a container may take to stop before it is killed. Default: 10 s.</summary>
    [Range(0, 600)]
    public int StopTimeoutSeconds { get; set; } = 10;

    /// <summary>How long one batch may take through a container's v2 endpoint before it fails. Default: 5000 ms.</summary>
    [Range(1, 600_000)]
    public int ScoringTimeoutMs { get; set; } = 5000;

    /// <summary>
    /// Where the per-container bearer token files live; the engine mounts each into its container
    /// read-only. Default: <c>containers</c> under the agent's data directory.
    /// </summary>
    public string? TokenDirectory { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!Uri.TryCreate(Endpoint, UriKind.Absolute, out var endpoint) || endpoint.Scheme is not ("unix" or "tcp" or "http" or "npipe"))
        {
            yield return new ValidationResult(
                $"Docker:Endpoint '{Endpoint}' is not an engine address (unix:///var/run/docker.sock, tcp://host:2375)", [nameof(Endpoint)]);
        }
    }
}
