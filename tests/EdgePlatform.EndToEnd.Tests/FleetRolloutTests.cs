using EdgePlatform.Contracts;
using EdgePlatform.FleetSim;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// Staged rollouts to simulated fleets that speak the device protocol against the real control
/// plane process: enrollment, attestation, MQTT over mutual TLS, signed pulls, Arrow telemetry.
/// What devices were told and fetched comes from the simulator's own record, not the server's view.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class FleetRolloutTests(FleetServerFixture server) : IClassFixture<FleetServerFixture>
{
    [Fact]
    public async Task Rollout_GoodVersionToAThousandDevicesInThreeStages_CompletesWithEveryDeviceActive()
    {
        await using var fleet = await server.StartFleetAsync("good", 1000);
        var version = server.Version1;

        var rollout = await server.Api.CreateRolloutAsync(
            new CreateRolloutRequest($"{version.Name}:{version.Version}", "fleet=good", null, [new(10, null, 2), new(50, null, 2), new(100, null, 0)], new RolloutGates(MaxFailurePercent: 5, MinDevices: 10)),
            default);
        var stagesSeen = new SortedSet<int>();
        await Wait.UntilAsync(
            async () =>
            {
                rollout = await server.Api.GetRolloutAsync(rollout.Id, default);
                stagesSeen.Add(rollout.CurrentStage);
                return rollout.State != RolloutStates.Running;
            },
            "the rollout to finish",
            TimeSpan.FromMinutes(5));

        Assert.Equal(RolloutStates.Completed, rollout.State);
        Assert.Equal([0, 1, 2], stagesSeen);
        var devices = await server.Api.ListRolloutDevicesAsync(rollout.Id, null, default);
        Assert.Equal(1000, devices.Count(d => d.State == RolloutDeviceStates.Active));
        Assert.Equal(1000, rollout.Counts?.GetValueOrDefault(RolloutDeviceStates.Active));
        Assert.InRange(devices.Count(d => d.Stage == 0), 50, 150);
        Assert.All(fleet.Devices, d => Assert.Equal(version.ManifestDigest, d.Active?.ManifestDigest));
        Assert.Empty(fleet.Record.RepeatedDownloads());
        Assert.All(fleet.Devices, d => Assert.Equal(1, fleet.Record.Downloads(d.Id, version.ManifestDigest)));
    }

    [Fact]
    public async Task Rollout_VersionRaisingErrorsInStageOne_RollsBackAndNoDeviceOutsideStageOneEverGetsIt()
    {
        var good = server.Version1;
        var bad = server.Version2;
        await using var fleet = await server.StartFleetAsync("bad", 400, o => o.Versions[$"{bad.Name}:{bad.Version}"] = new VersionBehaviour(ErrorRate: 0.3));
        await RollOutAsync($"{good.Name}:{good.Version}", "fleet=bad", [new(100, null, 0)], new RolloutGates());
        await Wait.UntilAsync(() => Task.FromResult(fleet.Devices.All(d => d.Active?.ManifestDigest == good.ManifestDigest)), "the fleet on the good version", FleetServerFixture.Patience);

        var rollout = await RollOutAsync(
            $"{bad.Name}:{bad.Version}",
            "fleet=bad",
            [new(10, null, 2), new(50, null, 2), new(100, null, 0)],
            new RolloutGates(MaxErrorRate: 0.05, MinEventsScored: 100));

        Assert.Equal(RolloutStates.RolledBack, rollout.State);
        Assert.Contains("gate failed in stage 1: error rate", rollout.Reason, StringComparison.Ordinal);
        var stageOne = (await server.Api.ListRolloutDevicesAsync(rollout.Id, null, default)).Where(d => d.Stage == 0).Select(d => d.DeviceId).ToHashSet(StringComparer.Ordinal);
        Assert.InRange(stageOne.Count, 20, 60);
        var told = fleet.Record.DevicesTold(bad.ManifestDigest);
        var pulled = fleet.Record.DevicesThatDownloaded(bad.ManifestDigest);
        var pulledModel = fleet.Record.DevicesThatDownloaded(bad.OnnxDigest);
        Assert.Subset(stageOne, told.ToHashSet());
        Assert.Subset(stageOne, pulled.ToHashSet());
        Assert.Subset(stageOne, pulledModel.ToHashSet());
        Assert.Equal(stageOne.Count, told.Count);

        // Every device of stage 1 goes back to the version it had; the others never moved.
        await Wait.UntilAsync(() => Task.FromResult(fleet.Devices.All(d => d.Active?.ManifestDigest == good.ManifestDigest)), "stage 1 back on the good version", FleetServerFixture.Patience);
        Assert.Equal(400, fleet.Devices.Count(d => d.Active?.ManifestDigest == good.ManifestDigest));
        Assert.Empty(fleet.Record.RepeatedDownloads());
    }

    [Fact]
    public async Task Rollout_DevicesOfflineThroughItAndDevicesJoiningLate_ConvergeAndNoLateJoinerSkipsAStage()
    {
        var version = server.Version2;
        await using var fleet = await server.StartFleetAsync("late", 300, o =>
        {
            o.OfflineShare = 0.2;
            o.LateShare = 0.1;
        });
        var offline = fleet.OfflineGroup.Where(d => d.Started).Select(d => d.Id).ToHashSet(StringComparer.Ordinal);
        var late = fleet.Devices.Where(d => d.Late).Select(d => d.Id).ToHashSet(StringComparer.Ordinal);
        await fleet.TakeOfflineAsync(fleet.OfflineGroup, default);
        await Wait.UntilAsync(
            async () => (await server.Api.ListDevicesAsync(default)).Count(d => offline.Contains(d.Id) && d.Status == DeviceStatuses.Offline) == offline.Count,
            "the offline devices' wills to mark them offline", FleetServerFixture.Patience);

        var rollout = await server.Api.CreateRolloutAsync(
            new CreateRolloutRequest($"{version.Name}:{version.Version}", "fleet=late", null, [new(20, null, 6), new(60, null, 6), new(100, null, 0)], new RolloutGates()),
            default);
        var joining = fleet.JoinLateAsync(default);
        var opened = new Dictionary<int, DateTimeOffset> { [0] = rollout.StageStartedAt };
        var lateJoinersWaited = new HashSet<string>(StringComparer.Ordinal);
        await Wait.UntilAsync(
            async () =>
            {
                rollout = await server.Api.GetRolloutAsync(rollout.Id, default);
                opened.TryAdd(rollout.CurrentStage, rollout.StageStartedAt);
                var current = rollout.CurrentStage;
                var entries = await server.Api.ListRolloutDevicesAsync(rollout.Id, RolloutDeviceStates.Pending, default);
                lateJoinersWaited.UnionWith(entries.Where(e => e.Stage > current && late.Contains(e.DeviceId)).Select(e => e.DeviceId));
                return rollout.State != RolloutStates.Running;
            },
            "the rollout to finish while devices join",
            FleetServerFixture.Patience);

        await joining;
        Assert.Equal(RolloutStates.Completed, rollout.State);
        Assert.NotEmpty(lateJoinersWaited);

        // The simulator's clock of when each device was first told, against when its stage opened
        // (the server stamps a stage before it publishes to it): nobody was told early.
        foreach (var entry in await server.Api.ListRolloutDevicesAsync(rollout.Id, null, default))
        {
            if (fleet.Record.FirstTold(entry.DeviceId, version.ManifestDigest) is { } told)
            {
                Assert.True(told >= opened[entry.Stage], $"{entry.DeviceId} of stage {entry.Stage + 1} was told at {told:O}, before its stage opened at {opened[entry.Stage]:O}");
            }
        }

        Assert.Empty(fleet.Record.DevicesTold(version.ManifestDigest).Intersect(offline));

        fleet.BringOnline(fleet.OfflineGroup);
        await Wait.UntilAsync(() => Task.FromResult(fleet.Devices.All(d => d.Active?.ManifestDigest == version.ManifestDigest)), "every device, offline and late ones included, on the version", FleetServerFixture.Patience);
        await Wait.UntilAsync(
            async () => (await server.Api.GetRolloutAsync(rollout.Id, default)).Counts?.GetValueOrDefault(RolloutDeviceStates.Active) == 300,
            "the control plane to see all 300 active", FleetServerFixture.Patience);
        Assert.Empty(fleet.Record.RepeatedDownloads());
    }

    private async Task<RolloutInfo> RollOutAsync(string model, string selector, IReadOnlyList<RolloutStage> stages, RolloutGates gates)
    {
        var rollout = await server.Api.CreateRolloutAsync(new CreateRolloutRequest(model, selector, null, stages, gates), default);
        await Wait.UntilAsync(
            async () => (rollout = await server.Api.GetRolloutAsync(rollout.Id, default)).State != RolloutStates.Running,
            $"rollout of {model} to finish", FleetServerFixture.Patience);
        return rollout;
    }
}
