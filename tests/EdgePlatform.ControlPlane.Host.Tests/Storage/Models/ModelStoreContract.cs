using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage.Models;

public abstract class ModelStoreContract(StoreProvider provider) : StoreContract(provider)
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task AddModelAsync_SameNameAndVersion_FalseAndKeepsTheFirst()
    {
        var store = Stores.Models;
        var model = Model("m", "1", Now, '1');

        Assert.True(await store.AddModelAsync(model, CancellationToken.None));
        Assert.False(await store.AddModelAsync(Model("m", "1", Now, '9'), CancellationToken.None));

        Assert.Equal(model.ManifestDigest, (await store.FindModelAsync("m", "1", CancellationToken.None))!.ManifestDigest);
    }

    [Fact]
    public async Task FindModelAsync_NoVersion_ReturnsTheNewest()
    {
        var store = Stores.Models;
        await store.AddModelAsync(Model("m", "1", Now, '1'), CancellationToken.None);
        await store.AddModelAsync(Model("m", "2", Now.AddHours(1), '2'), CancellationToken.None);
        await store.AddModelAsync(Model("other", "5", Now.AddHours(2), '5'), CancellationToken.None);

        var newest = (await store.FindModelAsync("m", null, CancellationToken.None))!;

        Assert.Equal("2", newest.Version);
        Assert.Equal(0.9, newest.Metrics["auc"], 1e-12);
        Assert.Equal(newest, await store.FindModelByDigestAsync("models/m", newest.ManifestDigest, CancellationToken.None), ModelComparer.Instance);
        Assert.Null(await store.FindModelByDigestAsync("models/other", newest.ManifestDigest, CancellationToken.None));
        Assert.Equal(["m/1", "m/2", "other/5"], (await store.ListModelsAsync(CancellationToken.None)).Select(m => $"{m.Name}/{m.Version}"));
    }

    [Fact]
    public async Task UpdateModelSignatureAsync_Resigned_FindReturnsTheNewSignature()
    {
        var store = Stores.Models;
        await store.AddModelAsync(Model("m", "1", Now, '1'), CancellationToken.None);

        await store.UpdateModelSignatureAsync("m", "1", "bmV3", CancellationToken.None);

        Assert.Equal("bmV3", (await store.FindModelAsync("m", "1", CancellationToken.None))!.Signature);
    }

    [Fact]
    public async Task SetAliasAsync_AliasMovedToAnotherVersion_PointsAtTheNewOneOnly()
    {
        var store = Stores.Models;
        await store.SetAliasAsync(new ModelAlias("m", "champion", "1", Now, "alice"), CancellationToken.None);
        await store.SetAliasAsync(new ModelAlias("m", "challenger", "2", Now, "alice"), CancellationToken.None);
        await store.SetAliasAsync(new ModelAlias("other", "champion", "7", Now, "alice"), CancellationToken.None);

        await store.SetAliasAsync(new ModelAlias("m", "champion", "2", Now.AddMinutes(5), "bob"), CancellationToken.None);

        Assert.Equal(new ModelAlias("m", "champion", "2", Now.AddMinutes(5), "bob"), await store.FindAliasAsync("m", "champion", CancellationToken.None));
        Assert.Equal(["challenger", "champion"], (await store.ListAliasesAsync("m", CancellationToken.None)).Select(a => a.Alias));
        Assert.Equal("7", (await store.FindAliasAsync("other", "champion", CancellationToken.None))!.Version);
        Assert.Null(await store.FindAliasAsync("m", "none", CancellationToken.None));
    }

    private static ModelRecord Model(string name, string version, DateTimeOffset createdAt, char digit) =>
        new($"models/{name}", name, version, "sha256:" + new string(digit, 64), 100, "sha256:" + new string('f', 64), 200, "c2ln", new Dictionary<string, double> { ["auc"] = 0.9 }, createdAt);

    private sealed class ModelComparer : IEqualityComparer<ModelRecord?>
    {
        private static readonly IReadOnlyDictionary<string, double> EmptyMetrics = new Dictionary<string, double>();

        public static ModelComparer Instance { get; } = new();

        public bool Equals(ModelRecord? x, ModelRecord? y) =>
            x is not null && y is not null && x with { Metrics = EmptyMetrics } == y with { Metrics = EmptyMetrics };

        public int GetHashCode(ModelRecord? obj) => obj?.ManifestDigest.GetHashCode(StringComparison.Ordinal) ?? 0;
    }
}

public sealed class SqliteModelStoreTests() : ModelStoreContract(StoreProvider.Sqlite);

[Trait("Category", "Integration")]
public sealed class PostgresModelStoreTests() : ModelStoreContract(StoreProvider.Postgres);
