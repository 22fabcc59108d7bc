using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Core.Ports;

/// <summary>The agent's side of the device link to the control plane.</summary>
public interface ICloudLink
{
    bool IsConnected { get; }

    /// <summary>Raised after every (re)connect, so state can be re-reported.</summary>
    event Func<CancellationToken, Task>? Connected;

    Task PublishReportedAsync(ReportedState reported, CancellationToken cancellationToken);

    /// <summary>Publishes a telemetry batch and returns once the broker acknowledged it.</summary>
    Task PublishTelemetryAsync(string kind, ReadOnlyMemory<byte> arrowStream, CancellationToken cancellationToken);
}
