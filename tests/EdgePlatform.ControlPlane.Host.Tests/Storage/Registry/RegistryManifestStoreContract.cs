using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Registry;
using EdgePlatform.ControlPlane.Host.Storage;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage.Registry;

public abstract class RegistryManifestStoreContract(StoreProvider provider) : StoreContract(provider)
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly RegistryManifest Manifest = new("tests/index", ContentDigest.Compute([1]), MediaTypes.OciManifest, 300);

    [Fact]
    public async Task FindByTagAsync_TagOfAnotherRepository_ReturnsNull()
    {
        var index = Stores.RegistryManifests;
        await index.SaveAsync(Manifest, "v1", Now, CancellationToken.None);

        Assert.Equal(Manifest, await index.FindByTagAsync("tests/index", "v1", CancellationToken.None));
        Assert.Null(await index.FindByTagAsync("tests/other", "v1", CancellationToken.None));
        Assert.Null(await index.FindByDigestAsync("tests/other", Manifest.Digest, CancellationToken.None));
        Assert.Empty(await index.ListTagsAsync("tests/other", CancellationToken.None));
    }

    [Fact]
    public async Task SaveAsync_WithoutTag_RecordsTheManifestUntagged()
    {
        var index = Stores.RegistryManifests;

        await index.SaveAsync(Manifest, tag: null, Now, CancellationToken.None);

        Assert.Equal(Manifest, await index.FindByDigestAsync("tests/index", Manifest.Digest, CancellationToken.None));
        Assert.Empty(await index.ListTagsAsync("tests/index", CancellationToken.None));
        Assert.Equal([Manifest.Digest], await index.ListDigestsAsync("tests/index", CancellationToken.None));
    }

    [Fact]
    public async Task SaveAsync_TagPushedAgainWithAnotherManifest_TagMovesAndBothManifestsStay()
    {
        var index = Stores.RegistryManifests;
        var next = Manifest with { Digest = ContentDigest.Compute([2]), Size = 400 };
        await index.SaveAsync(Manifest, "latest", Now, CancellationToken.None);
        await index.SaveAsync(Manifest, "v1", Now, CancellationToken.None);

        await index.SaveAsync(next, "latest", Now.AddMinutes(1), CancellationToken.None);
        await index.SaveAsync(Manifest, null, Now.AddMinutes(2), CancellationToken.None);

        Assert.Equal(next, await index.FindByTagAsync("tests/index", "latest", CancellationToken.None));
        Assert.Equal(Manifest, await index.FindByTagAsync("tests/index", "v1", CancellationToken.None));
        Assert.Equal(["latest", "v1"], await index.ListTagsAsync("tests/index", CancellationToken.None));
        Assert.Equal([Manifest.Digest, next.Digest], (await index.ListDigestsAsync("tests/index", CancellationToken.None)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task LinkBlobAsync_LinkedTwice_LinkedInThatRepositoryOnly()
    {
        var index = Stores.RegistryManifests;
        var digest = ContentDigest.Compute([3]);

        await index.LinkBlobAsync("tests/index", digest, CancellationToken.None);
        await index.LinkBlobAsync("tests/index", digest, CancellationToken.None);

        Assert.True(await index.IsBlobLinkedAsync("tests/index", digest, CancellationToken.None));
        Assert.False(await index.IsBlobLinkedAsync("tests/other", digest, CancellationToken.None));
    }
}

public sealed class SqliteRegistryManifestStoreTests() : RegistryManifestStoreContract(StoreProvider.Sqlite);

[Trait("Category", "Integration")]
public sealed class PostgresRegistryManifestStoreTests() : RegistryManifestStoreContract(StoreProvider.Postgres);
