using EdgePlatform.Security.Attestation;

namespace EdgePlatform.Agent.Core.Identity;

/// <summary>
/// The measurement of the agent's binaries that attestation presents, taken once on first use:
/// the build does not change while the agent runs, and agents hosted together share one build.
/// </summary>
public sealed class AgentBuildMeasurement(string? directory)
{
    private readonly Lazy<string> _value = new(() => AgentMeasurements.MeasureBuild(directory ?? AppContext.BaseDirectory));

    public string Value => _value.Value;
}
