using EdgePlatform.Contracts;
using EdgePlatform.FleetSim;
using Xunit.Abstractions;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// The rollout quality gate against simulated fleets whose devices send labelled outcomes in
/// quality telemetry, drawn from each version's configured accuracy: a version 5 points less
/// accurate stops in stage 1 on the evidence; one as accurate completes.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class FleetQualityGateTests(FleetServerFixture server, ITestOutputHelper output) : IClassFixture<FleetServerFixture>
{
    private static readonly RolloutGates QualityGate = new(QualityMetric: QualityGateMetrics.Accuracy, QualityMargin: 0.02);

    [Fact]
    public async Task Rollout_NewVersionFivePointsLessAccurate_QualityGateRollsItBackInStageOne()
    {
        var (good, worse) = (server.Version1, server.Version2);
        await using var fleet = await StartFleetAsync("qworse", 0.90, 0.85);
        await RollOutAsync($"{good.Name}:{good.Version}", "fleet=qworse", [new(100, null, 0)], new RolloutGates());
        await Wait.UntilAsync(() => Task.FromResult(fleet.Devices.All(d => d.Active?.ManifestDigest == good.ManifestDigest)), "the fleet on the first version", FleetServerFixture.Patience);

        var rollout = await RollOutAsync($"{worse.Name}:{worse.Version}", "fleet=qworse", [new(10, null, 600), new(100, null, 0)], QualityGate);

        output.WriteLine($"stopped {(rollout.UpdatedAt - rollout.StageStartedAt).TotalSeconds:0}s into stage 1: {rollout.Reason}");
        Assert.Equal(RolloutStates.RolledBack, rollout.State);
        Assert.Equal(0, rollout.CurrentStage);
        Assert.Contains("gate failed in stage 1: quality gate: accuracy", rollout.Reason, StringComparison.Ordinal);
        Assert.Contains("below the margin -0.02", rollout.Reason, StringComparison.Ordinal);

        // Stopped on evidence long before the ten-minute bake ended, and no device outside stage 1 was told.
        Assert.True(rollout.UpdatedAt - rollout.StageStartedAt < TimeSpan.FromSeconds(600), rollout.Reason);
        var stageOne = (await server.Api.ListRolloutDevicesAsync(rollout.Id, null, default)).Where(d => d.Stage == 0).Select(d => d.DeviceId).ToHashSet(StringComparer.Ordinal);
        Assert.Subset(stageOne, fleet.Record.DevicesTold(worse.ManifestDigest).ToHashSet());
        await Wait.UntilAsync(() => Task.FromResult(fleet.Devices.All(d => d.Active?.ManifestDigest == good.ManifestDigest)), "stage 1 back on the first version", FleetServerFixture.Patience);
    }

    [Fact]
    public async Task Rollout_NewVersionAsAccurate_QualityGatePassesAndTheRolloutCompletes()
    {
        var (first, same) = (server.Version1, server.Version2);
        await using var fleet = await StartFleetAsync("qsame", 0.90, 0.90);
        await RollOutAsync($"{first.Name}:{first.Version}", "fleet=qsame", [new(100, null, 0)], new RolloutGates());
        await Wait.UntilAsync(() => Task.FromResult(fleet.Devices.All(d => d.Active?.ManifestDigest == first.ManifestDigest)), "the fleet on the first version", FleetServerFixture.Patience);

        var rollout = await RollOutAsync($"{same.Name}:{same.Version}", "fleet=qsame", [new(10, null, 20), new(100, null, 10)], QualityGate);

        output.WriteLine($"{rollout.State} {(rollout.UpdatedAt - rollout.CreatedAt).TotalSeconds:0}s after it was created");
        Assert.True(rollout.State == RolloutStates.Completed, $"{rollout.State}: {rollout.Reason}");
        await Wait.UntilAsync(() => Task.FromResult(fleet.Devices.All(d => d.Active?.ManifestDigest == same.ManifestDigest)), "the fleet on the new version", FleetServerFixture.Patience);
    }

    private Task<FleetSimulator> StartFleetAsync(string name, double firstAccuracy, double secondAccuracy) =>
        server.StartFleetAsync(name, 200, o =>
        {
            o.LabelledShare = 0.5;
            o.Versions[$"{server.Version1.Name}:{server.Version1.Version}"] = new VersionBehaviour(Accuracy: firstAccuracy);
            o.Versions[$"{server.Version2.Name}:{server.Version2.Version}"] = new VersionBehaviour(Accuracy: secondAccuracy);
        });

    private async Task<RolloutInfo> RollOutAsync(string model, string selector, IReadOnlyList<RolloutStage> stages, RolloutGates gates)
    {
        var rollout = await server.Api.CreateRolloutAsync(new CreateRolloutRequest(model, selector, null, stages, gates), default);
        await Wait.UntilAsync(
            async () => (rollout = await server.Api.GetRolloutAsync(rollout.Id, default)).State != RolloutStates.Running,
            $"rollout of {model} to finish", FleetServerFixture.Patience);
        return rollout;
    }
}
