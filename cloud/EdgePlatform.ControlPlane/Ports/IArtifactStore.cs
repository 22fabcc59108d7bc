namespace EdgePlatform.ControlPlane.Ports;

/// <summary>Content-addressed blob storage (manifests are blobs too).</summary>
public interface IArtifactStore
{
    /// <summary>Stores content under its sha256 digest and returns the digest.</summary>
    Task<string> PutAsync(ReadOnlyMemory<byte> content, CancellationToken cancellationToken);

    /// <summary>
    /// Stores a stream's content under its sha256 digest without holding it in memory: the
    /// content is hashed while it is written aside, then moved into place. Returns the digest and size.
    /// </summary>
    Task<(string Digest, long Size)> PutAsync(Stream content, CancellationToken cancellationToken);

    /// <summary>Opens a blob for reading, or null when it is not stored.</summary>
    Task<Stream?> OpenReadAsync(string digest, CancellationToken cancellationToken);

    /// <summary>The blob's size, or null when it is not stored.</summary>
    Task<long?> GetSizeAsync(string digest, CancellationToken cancellationToken);
}
