namespace EdgePlatform.ControlPlane.Host.Registry;

/// <summary>A manifest pushed to a repository; its bytes are a blob in the artifact store.</summary>
public sealed record RegistryManifest(string Repository, string Digest, string MediaType, long Size);

/// <summary>Which manifests each repository holds and what its tags point at.</summary>
public interface IRegistryManifestIndex
{
    /// <summary>Records the manifest in its repository and, when a tag is given, moves the tag to it.</summary>
    Task SaveAsync(RegistryManifest manifest, string? tag, DateTimeOffset pushedAt, CancellationToken cancellationToken);

    Task<RegistryManifest?> FindByDigestAsync(string repository, string digest, CancellationToken cancellationToken);

    Task<RegistryManifest?> FindByTagAsync(string repository, string tag, CancellationToken cancellationToken);

    Task<IReadOnlyList<string>> ListTagsAsync(string repository, CancellationToken cancellationToken);

    /// <summary>Records a blob uploaded into the repository, so that it can be read there before a manifest names it.</summary>
    Task LinkBlobAsync(string repository, string digest, CancellationToken cancellationToken);

    Task<bool> IsBlobLinkedAsync(string repository, string digest, CancellationToken cancellationToken);

    /// <summary>The digests of every manifest pushed to the repository.</summary>
    Task<IReadOnlyList<string>> ListDigestsAsync(string repository, CancellationToken cancellationToken);
}
