using System.Diagnostics.Metrics;
using EdgePlatform.ControlPlane.Host.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace EdgePlatform.ControlPlane.Host.Tests;

/// <summary>
/// Counts <c>edgeplatform.limits.refusals</c> by <c>limit</c> tag for one server: every server in
/// this process has a meter of the same name, so instruments are told apart by the meter
/// factory that created them (the meter's scope).
/// </summary>
internal sealed class LimitRefusals : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Dictionary<string, long> _counts = new(StringComparer.Ordinal);

    public LimitRefusals(IServiceProvider services)
    {
        var factory = services.GetRequiredService<IMeterFactory>();

        // Created on first use otherwise, after the listener has looked for it.
        services.GetRequiredService<LimitMetrics>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == LimitMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, factory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "limit" && tag.Value is string limit)
                {
                    lock (_counts)
                    {
                        _counts[limit] = _counts.GetValueOrDefault(limit) + value;
                    }
                }
            }
        });
        _listener.Start();
    }

    /// <summary>Refusals counted for <paramref name="limit"/> since this recorder started.</summary>
    public long this[string limit]
    {
        get
        {
            lock (_counts)
            {
                return _counts.GetValueOrDefault(limit);
            }
        }
    }

    public void Dispose() => _listener.Dispose();
}
