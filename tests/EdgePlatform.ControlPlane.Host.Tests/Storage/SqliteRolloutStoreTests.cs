using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Storage;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage;

public sealed class SqliteRolloutStoreTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly TempDatabase _database = new();

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task SaveRolloutAsync_SavedTwice_KeepsTheLatestDocumentWithDevicesAndGates()
    {
        var store = new SqliteStore(_database.Path);
        var rollout = Rollout("ro-1", Now);
        await store.SaveRolloutAsync(rollout, CancellationToken.None);

        var changed = rollout with
        {
            State = RolloutStates.RolledBack,
            Reason = "gate failed",
            Devices = [new RolloutDevice("dev-1", 0, RolloutDeviceStates.RolledBack, Model("1"), "warm-up failed", Now, 4)],
        };
        await store.SaveRolloutAsync(changed, CancellationToken.None);

        var stored = await store.GetRolloutAsync("ro-1", CancellationToken.None);
        Assert.NotNull(stored);
        Assert.Equal(RolloutStates.RolledBack, stored.State);
        Assert.Equal(0.05, stored.Gates.MaxErrorRate);
        var device = Assert.Single(stored.Devices);
        Assert.Equal("1", device.Previous!.Version);
        Assert.Equal(4, device.DesiredVersion);
        Assert.Equal(50, stored.Stages[0].Percent);
    }

    [Fact]
    public async Task ListRolloutsAsync_Several_OldestFirstAndUnknownIsNull()
    {
        var store = new SqliteStore(_database.Path);
        await store.SaveRolloutAsync(Rollout("ro-b", Now.AddMinutes(1)), CancellationToken.None);
        await store.SaveRolloutAsync(Rollout("ro-a", Now), CancellationToken.None);

        var all = await store.ListRolloutsAsync(CancellationToken.None);

        Assert.Equal(["ro-a", "ro-b"], all.Select(r => r.Id));
        Assert.Null(await store.GetRolloutAsync("ro-none", CancellationToken.None));
    }

    private static ModelReference Model(string version) =>
        new("models/sensor", "sensor", version, "sha256:" + new string(version[0], 64), 100, "c2ln");

    private static RolloutInfo Rollout(string id, DateTimeOffset at) =>
        new(id, Model("2"), "site=berlin", 5, [new RolloutStage(50, null, 600), new RolloutStage(100, null, 0)],
            new RolloutGates(MaxFailurePercent: 10, MaxErrorRate: 0.05), 1800, RolloutStates.Running, 0, at, at, at, null, []);
}
