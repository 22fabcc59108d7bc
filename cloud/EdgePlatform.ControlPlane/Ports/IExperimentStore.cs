using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Experiments;

namespace EdgePlatform.ControlPlane.Ports;

/// <summary>Experiments, the devices each placed in an arm, and every look taken at them.</summary>
public interface IExperimentStore
{
    /// <summary>
    /// In one transaction, inserts or replaces the experiment and <paramref name="devices"/>; device
    /// entries not given stay as stored. Under a <paramref name="fence"/> the save lands only while
    /// that lease still has its epoch; false, and nothing written, once it has moved on.
    /// </summary>
    Task<bool> SaveExperimentAsync(ExperimentInfo experiment, IReadOnlyCollection<ExperimentDevice> devices, LeaseFence? fence, CancellationToken cancellationToken);

    Task<ExperimentInfo?> GetExperimentAsync(string id, CancellationToken cancellationToken);

    /// <summary>Experiments in one of <paramref name="states"/> (every one when null), oldest first.</summary>
    Task<IReadOnlyList<ExperimentInfo>> ListExperimentsAsync(IReadOnlyCollection<string>? states, CancellationToken cancellationToken);

    /// <summary>Every device entry of the experiment, by device id.</summary>
    Task<IReadOnlyList<ExperimentDevice>> ListExperimentDevicesAsync(string experimentId, CancellationToken cancellationToken);

    Task AddLookAsync(string experimentId, ExperimentLook look, CancellationToken cancellationToken);

    /// <summary>Every look taken at the experiment, oldest first.</summary>
    Task<IReadOnlyList<ExperimentLook>> ListLooksAsync(string experimentId, CancellationToken cancellationToken);
}
