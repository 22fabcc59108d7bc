using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Host.Storage.Leases;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage;

public abstract class RolloutStoreContract(StoreProvider provider) : StoreContract(provider)
{
    protected static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task SaveRolloutAsync_SavedTwice_KeepsTheLatestRolloutAndDevices()
    {
        var store = Stores.Rollouts;
        var rollout = Rollout("ro-1", Now) with { ModelAlias = "production", Rate = new RolloutRate(10, 2, 100, 50) };
        await store.SaveRolloutAsync(rollout, [Device("dev-1", RolloutDeviceStates.Deploying)], fence: null, CancellationToken.None);

        var changed = rollout with { State = RolloutStates.RolledBack, Reason = "gate failed", RateProgress = new RolloutRateProgress(20, Now, 3, 53, 40, 50) };
        await store.SaveRolloutAsync(changed, [Device("dev-1", RolloutDeviceStates.RolledBack) with { Previous = Model("1"), DesiredVersion = 4 }], fence: null, CancellationToken.None);

        var stored = await store.GetRolloutAsync("ro-1", CancellationToken.None);
        Assert.NotNull(stored);
        Assert.Equal(RolloutStates.RolledBack, stored.State);
        Assert.Equal(0.05, stored.Gates.MaxErrorRate);
        Assert.Equal("production", stored.ModelAlias);
        Assert.Equal(changed.RateProgress, stored.RateProgress);
        Assert.Equal(50, stored.Stages[0].Percent);
        var device = Assert.Single(await store.ListRolloutDevicesAsync("ro-1", CancellationToken.None));
        Assert.Equal("1", device.Previous!.Version);
        Assert.Equal(4, device.DesiredVersion);
        Assert.Equal([RolloutDeviceStates.RolledBack], device.History!.Select(h => h.State));
    }

    [Fact]
    public async Task SaveRolloutAsync_SomeDevices_LeavesTheOthersAsStoredAndCountsAll()
    {
        var store = Stores.Rollouts;
        var rollout = Rollout("ro-1", Now);
        await store.SaveRolloutAsync(rollout, [.. Enumerable.Range(0, 10).Select(i => Device($"dev-{i}", RolloutDeviceStates.Deploying, stage: i < 4 ? 0 : 1))], fence: null, CancellationToken.None);

        await store.SaveRolloutAsync(rollout, [Device("dev-2", RolloutDeviceStates.Failed), Device("dev-7", RolloutDeviceStates.Active, stage: 1)], fence: null, CancellationToken.None);

        var stored = (await store.GetRolloutAsync("ro-1", CancellationToken.None))!;
        Assert.Equal(10, (await store.ListRolloutDevicesAsync("ro-1", CancellationToken.None)).Count);
        Assert.Equal(new Dictionary<string, int> { [RolloutDeviceStates.Deploying] = 8, [RolloutDeviceStates.Failed] = 1, [RolloutDeviceStates.Active] = 1 }, stored.Counts);
        Assert.Equal(3, stored.StageCounts![0][RolloutDeviceStates.Deploying]);
        Assert.Equal(1, stored.StageCounts[0][RolloutDeviceStates.Failed]);
        Assert.Equal(1, stored.StageCounts[1][RolloutDeviceStates.Active]);
        var listed = Assert.Single(await store.ListRolloutsAsync(null, withCounts: true, CancellationToken.None));
        Assert.Equal(stored.Counts, listed.Counts);
    }

    [Fact]
    public async Task PageRolloutDevicesAsync_ByStateAfterACursor_ReturnsThatStateInIdOrder()
    {
        var store = Stores.Rollouts;
        await store.SaveRolloutAsync(
            Rollout("ro-1", Now),
            [.. Enumerable.Range(0, 30).Select(i => Device($"dev-{i:00}", i % 3 == 0 ? RolloutDeviceStates.Failed : RolloutDeviceStates.Active))],
            fence: null,
            CancellationToken.None);
        await store.SaveRolloutAsync(Rollout("ro-2", Now), [Device("dev-00", RolloutDeviceStates.Failed)], fence: null, CancellationToken.None);

        var first = await store.PageRolloutDevicesAsync("ro-1", RolloutDeviceStates.Failed, null, 4, CancellationToken.None);
        var second = await store.PageRolloutDevicesAsync("ro-1", RolloutDeviceStates.Failed, first[^1].DeviceId, 100, CancellationToken.None);
        var all = await store.PageRolloutDevicesAsync("ro-1", null, "dev-27", 100, CancellationToken.None);

        Assert.Equal(["dev-00", "dev-03", "dev-06", "dev-09"], first.Select(d => d.DeviceId));
        Assert.Equal(["dev-12", "dev-15", "dev-18", "dev-21", "dev-24", "dev-27"], second.Select(d => d.DeviceId));
        Assert.Equal(["dev-28", "dev-29"], all.Select(d => d.DeviceId));
    }

    [Fact]
    public async Task ListRolloutsAsync_ByState_OldestFirstAndUnknownIsNull()
    {
        var store = Stores.Rollouts;
        await store.SaveRolloutAsync(Rollout("ro-b", Now.AddMinutes(1)), [], fence: null, CancellationToken.None);
        await store.SaveRolloutAsync(Rollout("ro-a", Now), [], fence: null, CancellationToken.None);
        await store.SaveRolloutAsync(Rollout("ro-c", Now) with { State = RolloutStates.Aborted }, [], fence: null, CancellationToken.None);

        var all = await store.ListRolloutsAsync(null, withCounts: true, CancellationToken.None);
        var running = await store.ListRolloutsAsync([RolloutStates.Running, RolloutStates.Paused], withCounts: true, CancellationToken.None);

        Assert.Equal(["ro-a", "ro-c", "ro-b"], all.Select(r => r.Id));
        Assert.Equal(["ro-a", "ro-b"], running.Select(r => r.Id));
        Assert.Empty(running[0].Counts!);
        Assert.Null(await store.GetRolloutAsync("ro-none", CancellationToken.None));
    }

    [Fact]
    public async Task SaveRolloutAsync_UnderAFenceTheLeaseMovedOnFrom_RefusedAndNothingWritten()
    {
        var clock = new ManualClock(Now);
        var leases = LeaseStore.Open(Stores.Database, clock);
        var stale = (await leases.TryAcquireAsync("rollouts", "replica-a", TimeSpan.FromSeconds(10), CancellationToken.None))!;
        Assert.True(await Stores.Rollouts.SaveRolloutAsync(Rollout("ro-1", Now), [Device("dev-1", RolloutDeviceStates.Deploying)], stale.Fence, CancellationToken.None));
        clock.Now += TimeSpan.FromSeconds(11);
        var successor = (await leases.TryAcquireAsync("rollouts", "replica-b", TimeSpan.FromSeconds(10), CancellationToken.None))!;

        var late = await Stores.Rollouts.SaveRolloutAsync(
            Rollout("ro-1", Now) with { State = RolloutStates.Aborted }, [Device("dev-1", RolloutDeviceStates.Failed)], stale.Fence, CancellationToken.None);
        var current = await Stores.Rollouts.SaveRolloutAsync(
            Rollout("ro-1", Now) with { State = RolloutStates.Paused }, [Device("dev-2", RolloutDeviceStates.Deploying)], successor.Fence, CancellationToken.None);

        Assert.False(late);
        Assert.True(current);
        var stored = (await Stores.Rollouts.GetRolloutAsync("ro-1", CancellationToken.None))!;
        Assert.Equal(RolloutStates.Paused, stored.State);
        Assert.Equal(new Dictionary<string, int> { [RolloutDeviceStates.Deploying] = 2 }, stored.Counts);
    }

    protected static ModelReference Model(string version) =>
        new("models/sensor", "sensor", version, "sha256:" + new string(version[0], 64), 100, "c2ln");

    protected static RolloutDevice Device(string id, string state, int stage = 0) =>
        new(id, stage, state, null, null, Now, History: [new RolloutDeviceTransition(state, null, Now)]);

    protected static RolloutInfo Rollout(string id, DateTimeOffset at) =>
        new(id, Model("2"), null, "site=berlin", 5, [new RolloutStage(50, null, 600), new RolloutStage(100, null, 0)],
            new RolloutGates(MaxFailurePercent: 10, MaxErrorRate: 0.05), null, 1800, RolloutStates.Running, 0, at, at, at, null);
}

public sealed class SqliteRolloutStoreTests() : RolloutStoreContract(StoreProvider.Sqlite)
{
    [Fact]
    public async Task Constructor_RolloutStoredAsOneDocument_MovesItsDevicesToTheirOwnRows()
    {
        using var database = new TempDatabase();
        Host.Storage.Stores.OpenSqlite(database.Path).Dispose();
        var oldDocument = """
            {"id":"ro-old","model":{"repository":"models/sensor","name":"sensor","version":"2","manifestDigest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","manifestSize":100,"signature":"c2ln"},
             "selector":"site=berlin","priority":0,"stages":[{"percent":100,"bakeSeconds":0}],"gates":{"requireAttestation":false},"deviceTimeoutSeconds":1800,
             "state":"completed","currentStage":0,"stageStartedAt":"2025-06-01T12:00:00+00:00","createdAt":"2025-06-01T12:00:00+00:00","updatedAt":"2025-06-01T12:00:00+00:00",
             "devices":[{"deviceId":"dev-1","stage":0,"state":"active","since":"2025-06-01T12:00:00+00:00","desiredVersion":3},
                        {"deviceId":"dev-2","stage":0,"state":"failed","reason":"warm-up failed","since":"2025-06-01T12:00:00+00:00","desiredVersion":5}]}
            """;
        database.Scalar(
            SchemaRewind.ToStep7 +
            $"INSERT INTO rollouts (id, state, priority, created_at, document) VALUES ('ro-old', 'completed', 0, '2025-06-01T12:00:00.0000000Z', '{oldDocument.ReplaceLineEndings(string.Empty)}'); SELECT 0;");
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        using var stores = Host.Storage.Stores.OpenSqlite(database.Path);
        var migrated = stores.Rollouts;

        var rollout = (await migrated.GetRolloutAsync("ro-old", CancellationToken.None))!;
        var devices = await migrated.ListRolloutDevicesAsync("ro-old", CancellationToken.None);
        Assert.Equal(RolloutStates.Completed, rollout.State);
        Assert.Equal(new Dictionary<string, int> { [RolloutDeviceStates.Active] = 1, [RolloutDeviceStates.Failed] = 1 }, rollout.Counts);
        Assert.Equal(["dev-1", "dev-2"], devices.Select(d => d.DeviceId));
        Assert.Equal("warm-up failed", devices[1].Reason);
        Assert.Equal(5, devices[1].DesiredVersion);
        Assert.Equal(0, database.Scalar("SELECT COUNT(*) FROM rollouts WHERE json_extract(document, '$.devices') IS NOT NULL"));
    }
}

[Trait("Category", "Integration")]
public sealed class PostgresRolloutStoreTests() : RolloutStoreContract(StoreProvider.Postgres);
