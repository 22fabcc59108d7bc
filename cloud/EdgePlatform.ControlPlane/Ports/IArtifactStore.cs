namespace EdgePlatform.ControlPlane.Ports;

/// <summary>
/// Content-addressed blob storage (manifests are blobs too). Every replica of the control plane
/// that shares a store sees the same blobs, and a blob never appears before it is whole.
/// </summary>
public interface IArtifactStore
{
    /// <summary>Stores content under its sha256 digest and returns the digest.</summary>
    Task<string> PutAsync(ReadOnlyMemory<byte> content, CancellationToken cancellationToken);

    /// <summary>
    /// Stores a stream's content under its sha256 digest without holding it in memory: the
    /// content is hashed before it becomes visible under the digest. Returns the digest and size.
    /// </summary>
    Task<(string Digest, long Size)> PutAsync(Stream content, CancellationToken cancellationToken);

    /// <summary>
    /// Stores a stream's content under <paramref name="digest"/>, which the caller was told (a
    /// registry push names the digest of what it sends). Content that does not hash to it is
    /// refused with <see cref="ArtifactDigestMismatchException"/> and leaves nothing behind. Writing
    /// a digest that is already stored, from this process or another, succeeds. Returns the size.
    /// </summary>
    Task<long> PutAsync(string digest, Stream content, CancellationToken cancellationToken);

    /// <summary>Opens a blob for reading, streamed rather than loaded whole, or null when it is not stored.</summary>
    Task<Stream?> OpenReadAsync(string digest, CancellationToken cancellationToken);

    /// <summary>The blob's size, or null when it is not stored.</summary>
    Task<long?> GetSizeAsync(string digest, CancellationToken cancellationToken);
}

/// <summary>Content written under a digest hashed to another one; nothing was stored.</summary>
public sealed class ArtifactDigestMismatchException(string expected, string actual, long size)
    : Exception($"the content ({size} bytes) has digest {actual}, not {expected}; nothing was stored")
{
    public string Expected { get; } = expected;

    public string Actual { get; } = actual;

    public long Size { get; } = size;
}
