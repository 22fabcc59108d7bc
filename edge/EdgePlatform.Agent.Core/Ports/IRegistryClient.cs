namespace EdgePlatform.Agent.Core.Ports;

/// <summary>The pull side of an OCI registry.</summary>
public interface IRegistryClient
{
    /// <summary>Fetches a manifest by digest, reading at most <paramref name="maxBytes"/>.</summary>
    Task<byte[]> GetManifestAsync(string repository, string digest, long maxBytes, CancellationToken cancellationToken);

    /// <summary>
    /// The CMS signature stored for a manifest under its signature tag
    /// (<see cref="EdgePlatform.Contracts.OciManifest.SignatureTag"/>), or null when there is none.
    /// </summary>
    Task<byte[]?> GetSignatureAsync(string repository, string manifestDigest, CancellationToken cancellationToken);

    /// <summary>
    /// Opens a blob's content from <paramref name="offset"/> (an HTTP Range request); the caller
    /// bounds and hashes what it reads. <see cref="BlobContent.FromOffset"/> is false when the
    /// registry ignored the range and sent the whole blob.
    /// </summary>
    Task<BlobContent> OpenBlobAsync(string repository, string digest, long offset, CancellationToken cancellationToken);
}

public sealed record BlobContent(Stream Stream, bool FromOffset) : IDisposable, IAsyncDisposable
{
    public void Dispose() => Stream.Dispose();

    public ValueTask DisposeAsync() => Stream.DisposeAsync();
}

/// <summary>Where the device pulls from: the registry named at enrollment.</summary>
public interface IRegistryLocator
{
    ValueTask<Uri> GetRegistryUriAsync(CancellationToken cancellationToken);
}

/// <summary>The device's verified view of the signed metadata.</summary>
public interface ITrustStore
{
    /// <summary>Fetches and verifies current metadata; throws <see cref="EdgePlatform.Security.Tuf.TufVerificationException"/> naming the failed check.</summary>
    Task<TrustedMetadata> RefreshAsync(CancellationToken cancellationToken);

    /// <summary>The newest root already verified, from disk, for checks that must work offline.</summary>
    Task<EdgePlatform.Security.Tuf.RootMetadata> TrustedRootAsync(CancellationToken cancellationToken);

    /// <summary>The targets last verified, from disk (null before the first refresh), for offline resumes.</summary>
    Task<EdgePlatform.Security.Tuf.TargetsMetadata?> TrustedTargetsAsync(CancellationToken cancellationToken);
}

public sealed record TrustedMetadata(EdgePlatform.Security.Tuf.RootMetadata Root, EdgePlatform.Security.Tuf.TargetsMetadata Targets);
