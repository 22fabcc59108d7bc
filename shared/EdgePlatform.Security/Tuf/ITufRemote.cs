namespace EdgePlatform.Security.Tuf;

/// <summary>Where a device fetches metadata from; nothing it returns is trusted before it is verified.</summary>
public interface ITufRemote
{
    /// <summary>Root metadata of the given version, or null when there is no such version yet.</summary>
    Task<byte[]?> GetRootAsync(long version, CancellationToken cancellationToken);

    Task<byte[]> GetTimestampAsync(CancellationToken cancellationToken);

    Task<byte[]> GetTargetsAsync(CancellationToken cancellationToken);
}
