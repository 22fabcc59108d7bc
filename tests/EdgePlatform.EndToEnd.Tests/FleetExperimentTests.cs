using EdgePlatform.Contracts;
using EdgePlatform.FleetSim;
using Xunit.Abstractions;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// An experiment over a simulated fleet whose devices send labelled outcomes drawn from each
/// version's accuracy: devices are assigned to arms by the salted hash, each arm's model reaches
/// its devices through their desired states, the analysis finds the better arm at the device
/// level, and promoting it starts a rollout that takes the whole population over.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class FleetExperimentTests(FleetServerFixture server, ITestOutputHelper output) : IClassFixture<FleetServerFixture>
{
    [Fact]
    public async Task DeviceExperiment_BetterArmDetectedPerDevice_PromotedIntoARolloutThatCompletes()
    {
        var (control, treatment) = (server.Version1, server.Version2);
        await using var fleet = await server.StartFleetAsync("xdev", 200, o =>
        {
            o.LabelledShare = 0.5;
            o.Versions[$"{control.Name}:{control.Version}"] = new VersionBehaviour(Accuracy: 0.80);
            o.Versions[$"{treatment.Name}:{treatment.Version}"] = new VersionBehaviour(Accuracy: 0.90);
        });

        var experiment = await server.Api.CreateExperimentAsync(
            new CreateExperimentRequest(
                "fleet-accuracy",
                [new ExperimentArmRequest("control", $"{control.Name}:{control.Version}"), new ExperimentArmRequest("treatment", $"{treatment.Name}:{treatment.Version}")],
                "fleet=xdev",
                ExperimentUnits.Device,
                Metric: new ExperimentMetric(ExperimentMetricKinds.Accuracy)),
            default);

        // Each device runs the model of the arm its salted bucket names, and nothing else.
        await Wait.UntilAsync(
            () => Task.FromResult(fleet.Devices.All(d => d.Active is not null)),
            "every device to activate its arm's model", FleetServerFixture.Patience);
        var byArm = fleet.Devices.GroupBy(d => ArmBuckets.Bucket(d.Id, experiment.Salt) < ArmBuckets.Count / 2 ? control.ManifestDigest : treatment.ManifestDigest).ToList();
        Assert.All(byArm, group => Assert.All(group, d => Assert.Equal(group.Key, d.Active!.ManifestDigest)));

        ExperimentReport report = null!;
        await Wait.UntilAsync(
            async () =>
            {
                report = await server.Api.GetExperimentReportAsync(experiment.Id, default);
                return report.Arms.Sum(a => a.Units) == 200 && report.Comparisons.Any(c => !c.Cuped && c.Significant && c.Arm == "treatment");
            },
            "every device in the analysis and the treatment found better", FleetServerFixture.Patience);

        var comparison = report.Comparisons.First(c => !c.Cuped && c.Arm == "treatment");
        output.WriteLine($"{report.Looks} looks; {comparison.Test}: {comparison.ControlValue:F4} -> {comparison.ArmValue:F4}, [{comparison.AbsoluteLower:F4}, {comparison.AbsoluteUpper:F4}] over {comparison.ControlUnits}+{comparison.ArmUnits} devices; SRM p {report.SampleRatio.PValue:F3}");
        Assert.Equal("delta-method", comparison.Test);
        Assert.True(comparison.Sequential);
        Assert.InRange(comparison.AbsoluteDifference, 0.05, 0.15);
        Assert.False(report.SampleRatio.Alarm);

        var rollout = await server.Api.PromoteExperimentAsync(experiment.Id, new PromoteExperimentRequest(null, [new(50, null, 0), new(100, null, 0)]), default);
        Assert.Equal(treatment.ManifestDigest, rollout.Model.ManifestDigest);
        Assert.Equal(ExperimentStates.Promoted, (await server.Api.GetExperimentAsync(experiment.Id, default)).State);
        await Wait.UntilAsync(
            async () => (rollout = await server.Api.GetRolloutAsync(rollout.Id, default)).State != RolloutStates.Running,
            "the promoted rollout to finish", FleetServerFixture.Patience);
        Assert.True(rollout.State == RolloutStates.Completed, $"{rollout.State}: {rollout.Reason}");
        await Wait.UntilAsync(
            () => Task.FromResult(fleet.Devices.All(d => d.Active?.ManifestDigest == treatment.ManifestDigest)),
            "the whole fleet on the winner", FleetServerFixture.Patience);
    }
}
