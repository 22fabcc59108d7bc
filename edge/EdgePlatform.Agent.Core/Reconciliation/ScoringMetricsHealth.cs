using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Core.Telemetry;

namespace EdgePlatform.Agent.Core.Reconciliation;

/// <summary>Model health from the scoring counters the telemetry reporter also reads.</summary>
public sealed class ScoringMetricsHealth(ScoringMetrics metrics) : IModelHealth
{
    public ModelHealthSample Read() => new(metrics.TotalScored, metrics.TotalErrors);
}
