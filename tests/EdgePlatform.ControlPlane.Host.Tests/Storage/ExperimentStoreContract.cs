using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Experiments;
using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Host.Storage.Leases;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage;

public abstract class ExperimentStoreContract(StoreProvider provider) : StoreContract(provider)
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private static readonly ModelReference Model = new("models/sensor", "sensor", "1", "sha256:" + new string('1', 64), 10, "sig");

    [Fact]
    public async Task SaveExperimentAsync_SavedTwiceWithLooks_KeepsTheLatestExperimentDevicesAndEveryLookInOrder()
    {
        var store = Stores.Experiments;
        var model = Model;
        var experiment = Experiment();
        await store.SaveExperimentAsync(experiment, [new ExperimentDevice("dev-1", "control", "berlin", ExperimentDeviceStates.Placed, model, 2, "placed", Now)], fence: null, CancellationToken.None);
        await store.SaveExperimentAsync(
            experiment with { State = ExperimentStates.Stopped, StoppedAt = Now.AddHours(1), Reason = "stopped by ops" },
            [new ExperimentDevice("dev-1", "control", "berlin", ExperimentDeviceStates.Restored, model, 2, "stopped by ops", Now.AddHours(1)),
             new ExperimentDevice("dev-2", "candidate", "paris", ExperimentDeviceStates.Placed, null, 1, "placed", Now)],
            fence: null,
            CancellationToken.None);
        var comparison = new MetricComparison("accuracy", "candidate", "control", "two-proportion-z", true, 0.95, "none", 10, 12, 0.8, 0.9, 0.1, 0.02, 0.18, 0.125, 0.02, 0.23, 0.01, true, false);
        foreach (var minutes in new[] { 1, 2 })
        {
            await store.AddLookAsync("ex-1", new ExperimentLook(Now.AddMinutes(minutes), [], new SampleRatioReport([10, 12], [0.5, 0.5], 0.18, 1, 0.67, false), [comparison], [], null), CancellationToken.None);
        }

        var stored = await store.GetExperimentAsync("ex-1", CancellationToken.None);
        Assert.Equal(ExperimentStates.Stopped, stored!.State);
        Assert.Equal("site", stored.GroupTag);
        Assert.Equal(0.1, stored.Guardrails.MaxErrorRate);
        Assert.Equal("2", stored.Arms[1].Model.Version);
        Assert.Equal(["ex-1"], (await store.ListExperimentsAsync([ExperimentStates.Stopped], CancellationToken.None)).Select(e => e.Id));
        Assert.Empty(await store.ListExperimentsAsync([ExperimentStates.Running], CancellationToken.None));
        var devices = await store.ListExperimentDevicesAsync("ex-1", CancellationToken.None);
        Assert.Equal([ExperimentDeviceStates.Restored, ExperimentDeviceStates.Placed], devices.Select(d => d.State));
        Assert.Equal("1", devices[0].Previous!.Version);
        Assert.Null(devices[1].Previous);
        var looks = await store.ListLooksAsync("ex-1", CancellationToken.None);
        Assert.Equal([Now.AddMinutes(1), Now.AddMinutes(2)], looks.Select(l => l.At));
        Assert.Equal(comparison, looks[1].Comparisons.Single());
        Assert.Equal([10L, 12L], looks[0].SampleRatio.Observed);
    }

    [Fact]
    public async Task SaveExperimentAsync_UnderAFenceTheLeaseMovedOnFrom_RefusedAndNothingWritten()
    {
        var clock = new ManualClock(Now);
        var leases = LeaseStore.Open(Stores.Database, clock);
        var stale = (await leases.TryAcquireAsync("experiments", "replica-a", TimeSpan.FromSeconds(10), CancellationToken.None))!;
        Assert.True(await Stores.Experiments.SaveExperimentAsync(Experiment(), [], stale.Fence, CancellationToken.None));
        clock.Now += TimeSpan.FromSeconds(11);
        Assert.NotNull(await leases.TryAcquireAsync("experiments", "replica-b", TimeSpan.FromSeconds(10), CancellationToken.None));

        var late = await Stores.Experiments.SaveExperimentAsync(
            Experiment() with { State = ExperimentStates.Stopped },
            [new ExperimentDevice("dev-1", "control", "berlin", ExperimentDeviceStates.Restored, Model, 2, "stopped", Now)],
            stale.Fence,
            CancellationToken.None);

        Assert.False(late);
        Assert.Equal(ExperimentStates.Running, (await Stores.Experiments.GetExperimentAsync("ex-1", CancellationToken.None))!.State);
        Assert.Empty(await Stores.Experiments.ListExperimentDevicesAsync("ex-1", CancellationToken.None));
    }

    private static ExperimentInfo Experiment() => new(
        "ex-1", "lift", [new ExperimentArm("control", Model, 1), new ExperimentArm("candidate", Model with { Version = "2" }, 1)], "site=berlin",
        ExperimentUnits.Group, "site", "", null, new ExperimentMetric(ExperimentMetricKinds.Accuracy), new ExperimentGuardrails(MaxErrorRate: 0.1), 3, "salt",
        0.05, 5000, ExperimentStates.Running, Now, Now.AddDays(7), null, null);
}

public sealed class SqliteExperimentStoreTests() : ExperimentStoreContract(StoreProvider.Sqlite);

[Trait("Category", "Integration")]
public sealed class PostgresExperimentStoreTests() : ExperimentStoreContract(StoreProvider.Postgres);
