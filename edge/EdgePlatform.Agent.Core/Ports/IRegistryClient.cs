namespace EdgePlatform.Agent.Core.Ports;

/// <summary>The pull side of an OCI registry.</summary>
public interface IRegistryClient
{
    /// <summary>Fetches a manifest by digest, reading at most <paramref name="maxBytes"/>.</summary>
    Task<byte[]> GetManifestAsync(string repository, string digest, long maxBytes, CancellationToken cancellationToken);

    /// <summary>Opens a blob's content stream; the caller bounds and hashes what it reads.</summary>
    Task<Stream> OpenBlobAsync(string repository, string digest, CancellationToken cancellationToken);
}

/// <summary>Where the device pulls from: the registry named at enrollment.</summary>
public interface IRegistryLocator
{
    ValueTask<Uri> GetRegistryUriAsync(CancellationToken cancellationToken);
}

/// <summary>The trust root that model signatures must chain to.</summary>
public interface ITrustStore
{
    ValueTask<EdgePlatform.Security.CmsSignatureVerifier> GetVerifierAsync(CancellationToken cancellationToken);
}
