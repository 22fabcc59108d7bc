using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Ports;

/// <summary>Dataset versions (immutable once added) and the named connections sources read through.</summary>
public interface IDatasetStore
{
    /// <summary>Adds <paramref name="version"/> as the next version of its name (its <see cref="DatasetVersionInfo.Version"/> is ignored) and returns it numbered.</summary>
    Task<DatasetVersionInfo> AddDatasetVersionAsync(DatasetVersionInfo version, CancellationToken cancellationToken);

    /// <summary>One version, or the latest when <paramref name="version"/> is null; null when there is none.</summary>
    Task<DatasetVersionInfo?> GetDatasetVersionAsync(string name, int? version, CancellationToken cancellationToken);

    /// <summary>Every version of a name, oldest first.</summary>
    Task<IReadOnlyList<DatasetVersionInfo>> ListDatasetVersionsAsync(string name, CancellationToken cancellationToken);

    /// <summary>Every name with its version count and latest version.</summary>
    Task<IReadOnlyList<DatasetSummary>> ListDatasetSummariesAsync(CancellationToken cancellationToken);

    /// <summary>False when a connection of that name exists already.</summary>
    Task<bool> AddDatasetConnectionAsync(DatasetConnectionRecord connection, CancellationToken cancellationToken);

    Task<DatasetConnectionRecord?> GetDatasetConnectionAsync(string name, CancellationToken cancellationToken);

    Task<IReadOnlyList<DatasetConnectionRecord>> ListDatasetConnectionsAsync(CancellationToken cancellationToken);
}

/// <summary>A stored connection: <see cref="SealedConnectionString"/> is the connection string encrypted under the server's key.</summary>
public sealed record DatasetConnectionRecord(string Name, string Kind, string Host, byte[] SealedConnectionString, DateTimeOffset CreatedAt)
{
    public DatasetConnectionInfo ToInfo() => new(Name, Kind, Host, CreatedAt);
}
