using Dapper;
using EdgePlatform.ControlPlane.Host.Registry;

using static EdgePlatform.ControlPlane.Host.Storage.StoreValues;

namespace EdgePlatform.ControlPlane.Host.Storage.Registry;

/// <summary>
/// The registry's index of manifests, tags and linked blobs (tables <c>registry_manifests</c>,
/// <c>registry_tags</c> and <c>registry_blobs</c>); the bytes are in the artifact store.
/// </summary>
public abstract class RegistryManifestStore(StoreDatabase database) : IRegistryManifestIndex
{
    public async Task SaveAsync(RegistryManifest manifest, string? tag, DateTimeOffset pushedAt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var at = Time(pushedAt);

        // A manifest pushed again keeps its first push time; its tag moves to it all the same.
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO registry_manifests (repository, digest, media_type, size, pushed_at)
            VALUES (@Repository, @Digest, @MediaType, @Size, @at)
            ON CONFLICT (repository, digest) DO NOTHING
            """,
            new { manifest.Repository, manifest.Digest, manifest.MediaType, manifest.Size, at },
            transaction,
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        if (tag is not null)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO registry_tags (repository, tag, digest, updated_at) VALUES (@Repository, @tag, @Digest, @at)
                ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at
                """,
                new { manifest.Repository, tag, manifest.Digest, at },
                transaction,
                cancellationToken: cancellationToken)).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<RegistryManifest?> FindByDigestAsync(string repository, string digest, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<RegistryManifestRow>(new CommandDefinition(
            "SELECT repository, digest, media_type, size FROM registry_manifests WHERE repository = @repository AND digest = @digest",
            new { repository, digest },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToRecord();
    }

    public async Task<RegistryManifest?> FindByTagAsync(string repository, string tag, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var row = await connection.QuerySingleOrDefaultAsync<RegistryManifestRow>(new CommandDefinition(
            """
            SELECT m.repository, m.digest, m.media_type, m.size
            FROM registry_tags t JOIN registry_manifests m ON m.repository = t.repository AND m.digest = t.digest
            WHERE t.repository = @repository AND t.tag = @tag
            """,
            new { repository, tag },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return row?.ToRecord();
    }

    public async Task<IReadOnlyList<string>> ListTagsAsync(string repository, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var tags = await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT tag FROM registry_tags WHERE repository = @repository ORDER BY tag",
            new { repository },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. tags];
    }

    public async Task LinkBlobAsync(string repository, string digest, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO registry_blobs (repository, digest) VALUES (@repository, @digest) ON CONFLICT (repository, digest) DO NOTHING",
            new { repository, digest },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
    }

    public async Task<bool> IsBlobLinkedAsync(string repository, string digest, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM registry_blobs WHERE repository = @repository AND digest = @digest",
            new { repository, digest },
            cancellationToken: cancellationToken)).ConfigureAwait(false) > 0;
    }

    public async Task<IReadOnlyList<string>> ListDigestsAsync(string repository, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var digests = await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT digest FROM registry_manifests WHERE repository = @repository ORDER BY digest",
            new { repository },
            cancellationToken: cancellationToken)).ConfigureAwait(false);
        return [.. digests];
    }

#pragma warning disable CA1812 // Instantiated by Dapper.
    private sealed class RegistryManifestRow
    {
        public string Repository { get; set; } = "";
        public string Digest { get; set; } = "";
        public string MediaType { get; set; } = "";
        public long Size { get; set; }

        public RegistryManifest ToRecord() => new(Repository, Digest, MediaType, Size);
    }
#pragma warning restore CA1812
}
