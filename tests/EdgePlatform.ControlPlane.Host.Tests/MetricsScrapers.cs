namespace EdgePlatform.ControlPlane.Host.Tests;

/// <summary>
/// Tests that read <c>/metrics</c> run alone, after the parallel ones. Every server in this
/// process names its meters alike, and OpenTelemetry stops exporting a meter's instruments in
/// every provider when any same-named meter is disposed (open-telemetry/opentelemetry-dotnet
/// #6412): another test class's server shutting down mid-test would empty the scrape. One
/// server per process, as in production, never meets this.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MetricsScrapers
{
    public const string Name = "metrics";
}
