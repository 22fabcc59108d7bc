using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Core.Ports;

/// <summary>
/// Content-addressed storage of verified package blobs. <see cref="AddAsync"/> admits a blob only
/// through <see cref="Packages.BlobReceiver"/>, which bounds it at its signed size and checks its
/// digest, so every store holds only content that passed the same checks.
/// </summary>
public interface IModelStore
{
    /// <summary>Where a runtime finds the blob's content (a file path on a device).</summary>
    string PathOf(string digest);

    bool Contains(string digest);

    /// <summary>True when the blob is held with this size and its content still has this digest.</summary>
    Task<bool> VerifyAsync(string digest, long size, CancellationToken cancellationToken);

    Task<byte[]> ReadAsync(string digest, CancellationToken cancellationToken);

    /// <summary>Stores content the caller has already verified against <paramref name="digest"/>.</summary>
    Task WriteAsync(string digest, ReadOnlyMemory<byte> content, CancellationToken cancellationToken);

    /// <summary>Downloads a blob as <paramref name="descriptor"/>, refusing content whose size or digest differ.</summary>
    Task AddAsync(OciDescriptor descriptor, Func<long, CancellationToken, Task<BlobContent>> open, CancellationToken cancellationToken);

    /// <summary>The digest of the blob as held now, for attestation's model measurements; null when it is not held.</summary>
    Task<string?> MeasureAsync(string digest, CancellationToken cancellationToken);
}
