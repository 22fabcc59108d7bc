using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Ports;

/// <summary>Finds a registered dataset version for training by <c>name</c>, <c>name@N</c> or <c>name@latest</c>.</summary>
public interface IDatasetResolver
{
    /// <summary>
    /// The version as training reads it (its <see cref="DatasetInfo.Name"/> is <c>name@N</c> and its
    /// digest the snapshot's), or null when the name has no versions.
    /// </summary>
    Task<DatasetInfo?> ResolveAsync(string reference, CancellationToken cancellationToken);
}
