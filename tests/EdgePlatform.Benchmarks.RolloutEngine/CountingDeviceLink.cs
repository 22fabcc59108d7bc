using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.Benchmarks.RolloutEngine;

/// <summary>
/// Counts desired states instead of publishing them: the broker's cost is measured by the
/// telemetry benchmark; this one measures the engine and its store.
/// </summary>
internal sealed class CountingDeviceLink : IDeviceLink
{
    private long _published;

    public long Published => Interlocked.Read(ref _published);

    public Task PublishDesiredAsync(string deviceId, DesiredState desired, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _published);
        return Task.CompletedTask;
    }
}
