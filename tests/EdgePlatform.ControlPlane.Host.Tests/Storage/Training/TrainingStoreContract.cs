using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Storage;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage.Training;

public abstract class TrainingStoreContract(StoreProvider provider) : StoreContract(provider)
{
    private static readonly DateTimeOffset Now = new(2026, 2, 1, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task SaveTrainingRunAsync_SavedAgainWhenFinished_ReplacesTheDocument()
    {
        var store = Stores.Training;
        var running = new TrainingRunInfo("run-2", TrainingRunStatuses.Running, "sensors", "m", "gbdt", null, null, null, null, Now, null);
        await store.SaveTrainingRunAsync(running, CancellationToken.None);
        await store.SaveTrainingRunAsync(running with { Id = "run-1", CreatedAt = Now.AddMinutes(-1) }, CancellationToken.None);

        var finished = running with { Status = TrainingRunStatuses.Succeeded, ModelVersion = "3", FinishedAt = Now.AddMinutes(5) };
        await store.SaveTrainingRunAsync(finished, CancellationToken.None);

        var stored = (await store.GetTrainingRunAsync("run-2", CancellationToken.None))!;
        Assert.Equal((TrainingRunStatuses.Succeeded, "3", Now.AddMinutes(5)), (stored.Status, stored.ModelVersion, stored.FinishedAt));
        Assert.Equal(["run-1", "run-2"], (await store.ListTrainingRunsAsync(CancellationToken.None)).Select(r => r.Id));
        Assert.Null(await store.GetTrainingRunAsync("run-none", CancellationToken.None));
    }

    [Fact]
    public async Task AddDatasetAsync_Dataset_RoundTripsAndListsByName()
    {
        var store = Stores.Training;
        var dataset = new DatasetInfo("sensors", "sha256:" + new string('d', 64), 1200, ["temperature", "label"], "label", Now);
        await store.AddDatasetAsync(dataset, CancellationToken.None);
        await store.AddDatasetAsync(dataset with { Name = "audio", Columns = ["rms"] }, CancellationToken.None);

        var stored = (await store.GetDatasetAsync("sensors", CancellationToken.None))!;

        Assert.Equal((dataset.Digest, 1200, "label", Now), (stored.Digest, stored.Rows, stored.Label, stored.CreatedAt));
        Assert.Equal(dataset.Columns, stored.Columns);
        Assert.Equal(["audio", "sensors"], (await store.ListDatasetsAsync(CancellationToken.None)).Select(d => d.Name));
    }
}

public sealed class SqliteTrainingStoreTests() : TrainingStoreContract(StoreProvider.Sqlite);

[Trait("Category", "Integration")]
public sealed class PostgresTrainingStoreTests() : TrainingStoreContract(StoreProvider.Postgres);
