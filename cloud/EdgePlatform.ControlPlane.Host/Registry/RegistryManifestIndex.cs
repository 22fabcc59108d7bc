using EdgePlatform.ControlPlane.Host.Storage;

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

/// <summary>The index in the server's SQLite database (tables <c>registry_manifests</c> and <c>registry_tags</c>).</summary>
public sealed class SqliteRegistryManifestIndex(SqliteStore store) : IRegistryManifestIndex
{
    public Task SaveAsync(RegistryManifest manifest, string? tag, DateTimeOffset pushedAt, CancellationToken cancellationToken) =>
        store.SaveRegistryManifestAsync(manifest, tag, pushedAt, cancellationToken);

    public Task<RegistryManifest?> FindByDigestAsync(string repository, string digest, CancellationToken cancellationToken) =>
        store.FindRegistryManifestByDigestAsync(repository, digest, cancellationToken);

    public Task<RegistryManifest?> FindByTagAsync(string repository, string tag, CancellationToken cancellationToken) =>
        store.FindRegistryManifestByTagAsync(repository, tag, cancellationToken);

    public Task<IReadOnlyList<string>> ListTagsAsync(string repository, CancellationToken cancellationToken) =>
        store.ListRegistryTagsAsync(repository, cancellationToken);

    public Task LinkBlobAsync(string repository, string digest, CancellationToken cancellationToken) =>
        store.LinkRegistryBlobAsync(repository, digest, cancellationToken);

    public Task<bool> IsBlobLinkedAsync(string repository, string digest, CancellationToken cancellationToken) =>
        store.IsRegistryBlobLinkedAsync(repository, digest, cancellationToken);

    public Task<IReadOnlyList<string>> ListDigestsAsync(string repository, CancellationToken cancellationToken) =>
        store.ListRegistryManifestDigestsAsync(repository, cancellationToken);
}
