using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Experiments;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Tests.Fakes;

internal sealed class InMemoryExperimentStore : IExperimentStore
{
    private readonly Dictionary<string, ExperimentInfo> _experiments = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, ExperimentDevice>> _devices = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<ExperimentLook>> _looks = new(StringComparer.Ordinal);

    public Task<bool> SaveExperimentAsync(ExperimentInfo experiment, IReadOnlyCollection<ExperimentDevice> devices, LeaseFence? fence, CancellationToken cancellationToken)
    {
        lock (_experiments)
        {
            _experiments[experiment.Id] = experiment;
            if (!_devices.TryGetValue(experiment.Id, out var entries))
            {
                _devices[experiment.Id] = entries = new(StringComparer.Ordinal);
            }

            foreach (var device in devices)
            {
                entries[device.DeviceId] = device;
            }
        }

        return Task.FromResult(true);
    }

    public Task<ExperimentInfo?> GetExperimentAsync(string id, CancellationToken cancellationToken)
    {
        lock (_experiments)
        {
            return Task.FromResult(_experiments.GetValueOrDefault(id));
        }
    }

    public Task<IReadOnlyList<ExperimentInfo>> ListExperimentsAsync(IReadOnlyCollection<string>? states, CancellationToken cancellationToken)
    {
        lock (_experiments)
        {
            return Task.FromResult<IReadOnlyList<ExperimentInfo>>([.. _experiments.Values.Where(e => states is null || states.Contains(e.State)).OrderBy(e => e.CreatedAt)]);
        }
    }

    public Task<IReadOnlyList<ExperimentDevice>> ListExperimentDevicesAsync(string experimentId, CancellationToken cancellationToken)
    {
        lock (_experiments)
        {
            return Task.FromResult<IReadOnlyList<ExperimentDevice>>(
                _devices.TryGetValue(experimentId, out var entries) ? [.. entries.Values.OrderBy(d => d.DeviceId, StringComparer.Ordinal)] : []);
        }
    }

    public Task AddLookAsync(string experimentId, ExperimentLook look, CancellationToken cancellationToken)
    {
        lock (_experiments)
        {
            if (!_looks.TryGetValue(experimentId, out var looks))
            {
                _looks[experimentId] = looks = [];
            }

            looks.Add(look);
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<ExperimentLook>> ListLooksAsync(string experimentId, CancellationToken cancellationToken)
    {
        lock (_experiments)
        {
            return Task.FromResult<IReadOnlyList<ExperimentLook>>(_looks.TryGetValue(experimentId, out var looks) ? [.. looks] : []);
        }
    }
}
