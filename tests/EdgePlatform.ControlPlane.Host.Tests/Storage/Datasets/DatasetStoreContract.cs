using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage.Datasets;

public abstract class DatasetStoreContract(StoreProvider provider) : StoreContract(provider)
{
    private static readonly DateTimeOffset Now = new(2026, 2, 1, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task AddDatasetVersionAsync_ConcurrentCreatesFromTwoReplicas_EachGetsANumberOfItsOwn()
    {
        const int PerReplica = 8;
        using var replica = OpenAnotherReplica();

        var added = await Task.WhenAll(Enumerable.Range(0, 2 * PerReplica).Select(i => Task.Run(() =>
            (i % 2 == 0 ? Stores.Datasets : replica.Datasets).AddDatasetVersionAsync(Version("sensors", $"writer-{i}"), CancellationToken.None))));
        await Stores.Datasets.AddDatasetVersionAsync(Version("audio", "writer-x"), CancellationToken.None);

        Assert.Equal(Enumerable.Range(1, 2 * PerReplica), added.Select(v => v.Version).Order());
        var listed = await Stores.Datasets.ListDatasetVersionsAsync("sensors", CancellationToken.None);
        Assert.Equal(added.OrderBy(v => v.Version).Select(v => (v.Version, v.CreatedBy)), listed.Select(v => (v.Version, v.CreatedBy)));
        Assert.Equal(1, (await Stores.Datasets.GetDatasetVersionAsync("audio", null, CancellationToken.None))!.Version);
    }

    [Fact]
    public async Task GetDatasetVersionAsync_NoVersion_ReturnsTheLatestWithItsDocuments()
    {
        var store = Stores.Datasets;
        await store.AddDatasetVersionAsync(Version("sensors", "alice"), CancellationToken.None);
        var rules = new CleansingRules([new CleansingRule("drop-missing")]);
        var second = await store.AddDatasetVersionAsync(Version("sensors", "bob") with { ParentVersion = 1, Rules = rules, Label = null }, CancellationToken.None);

        var latest = (await store.GetDatasetVersionAsync("sensors", null, CancellationToken.None))!;

        Assert.Equal(2, second.Version);
        Assert.Equal(second with { Columns = [], Rules = null }, latest with { Columns = [], Rules = null });
        Assert.Equal(second.Columns, latest.Columns);
        Assert.Equal(1, latest.ParentVersion);
        Assert.NotNull(latest.Rules);
        Assert.Equal("alice", (await store.GetDatasetVersionAsync("sensors", 1, CancellationToken.None))!.CreatedBy);
        Assert.Null(await store.GetDatasetVersionAsync("sensors", 3, CancellationToken.None));
        var summary = Assert.Single(await store.ListDatasetSummariesAsync(CancellationToken.None));
        Assert.Equal(("sensors", 2, 2), (summary.Name, summary.Versions, summary.Latest.Version));
    }

    [Fact]
    public async Task AddDatasetConnectionAsync_SameNameTwice_FalseAndKeepsTheFirst()
    {
        var store = Stores.Datasets;
        var first = new DatasetConnectionRecord("warehouse", "postgres", "db.example", [1, 2, 3, 0, 255], Now);

        Assert.True(await store.AddDatasetConnectionAsync(first, CancellationToken.None));
        Assert.False(await store.AddDatasetConnectionAsync(first with { Host = "other.example", SealedConnectionString = [9] }, CancellationToken.None));
        Assert.True(await store.AddDatasetConnectionAsync(first with { Name = "archive" }, CancellationToken.None));

        var stored = (await store.GetDatasetConnectionAsync("warehouse", CancellationToken.None))!;
        Assert.Equal(("db.example", Now), (stored.Host, stored.CreatedAt));
        Assert.Equal(first.SealedConnectionString, stored.SealedConnectionString);
        Assert.Equal(["archive", "warehouse"], (await store.ListDatasetConnectionsAsync(CancellationToken.None)).Select(c => c.Name));
        Assert.Null(await store.GetDatasetConnectionAsync("none", CancellationToken.None));
    }

    private static DatasetVersionInfo Version(string name, string createdBy) => new(
        name, 0, "sha256:" + new string('e', 64), 4096, new DatasetSourceInfo("upload", "sensors.csv"), "csv",
        [new DatasetColumnInfo("temperature", "numeric"), new DatasetColumnInfo("label", "boolean")], 100, "label", createdBy, Now);
}

public sealed class SqliteDatasetStoreTests() : DatasetStoreContract(StoreProvider.Sqlite);

[Trait("Category", "Integration")]
public sealed class PostgresDatasetStoreTests() : DatasetStoreContract(StoreProvider.Postgres);
