using System.Diagnostics.Metrics;

namespace EdgePlatform.ControlPlane.Training;

/// <summary>
/// The sweep queue as gauges (meter <see cref="MeterName"/>, at <c>/metrics</c>): queued trials,
/// live workers and running sweeps, so a cluster can scale its workers on the queue depth. They
/// describe the whole fleet, so only the replica holding the fleet-metrics lease reports them.
/// </summary>
public sealed class SweepQueueMetrics : IDisposable
{
    public const string MeterName = "EdgePlatform.Sweeps";

    private readonly Meter _meter;
    private long _queued;
    private long _leased;
    private long _liveWorkers;
    private long _activeSweeps;

    public SweepQueueMetrics(IMeterFactory meterFactory, Leases.ReplicaLeases? leases = null)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        leases?.Want(Leases.LeaseNames.FleetMetrics);
        _meter = meterFactory.Create(MeterName);
        IEnumerable<Measurement<long>> Observe(Func<long> read) =>
            leases is null || leases.Holds(Leases.LeaseNames.FleetMetrics) ? [new Measurement<long>(read())] : [];
        _meter.CreateObservableGauge("edgeplatform.sweeps.queue_depth", () => Observe(() => Interlocked.Read(ref _queued)), "{trial}", "Trials queued for a worker");
        _meter.CreateObservableGauge("edgeplatform.sweeps.trials_running", () => Observe(() => Interlocked.Read(ref _leased)), "{trial}", "Trials leased to workers");
        _meter.CreateObservableGauge("edgeplatform.sweeps.live_workers", () => Observe(() => Interlocked.Read(ref _liveWorkers)), "{worker}", "Workers seen within the liveness window");
        _meter.CreateObservableGauge("edgeplatform.sweeps.active", () => Observe(() => Interlocked.Read(ref _activeSweeps)), "{sweep}", "Sweeps running or refitting");
    }

    public void Update(int queued, int leased, int liveWorkers, int activeSweeps)
    {
        Interlocked.Exchange(ref _queued, queued);
        Interlocked.Exchange(ref _leased, leased);
        Interlocked.Exchange(ref _liveWorkers, liveWorkers);
        Interlocked.Exchange(ref _activeSweeps, activeSweeps);
    }

    public void Dispose() => _meter.Dispose();
}
