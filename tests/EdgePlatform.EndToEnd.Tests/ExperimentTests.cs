using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.Training.Datasets;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// Experiments with real agents: an event-level split delivered through the device's signed
/// desired state (the candidate arm's package verified like any release), events scored by both
/// arms and labelled, the report and its chart from <c>edgectl</c>, the winner promoted into a
/// rollout; and a tampered candidate package refused by the device while its primary keeps serving.
/// The devices here are their own agents, so the other tests' devices are left as they are.
/// </summary>
[Collection(SharedPlatform.Name)]
public sealed class ExperimentTests(PlatformFixture platform)
{
    [Fact]
    public async Task EventSplit_ArmsScoredReportedAndCharted_WinnerPromotedIntoRollout()
    {
        var baseline = await platform.EnsureBaselineAsync();
        var treatment = await platform.TrainAsync(seed: 23);
        var (deviceId, bus) = await StartDeviceAsync("e2e-device-x", "exp-split");

        var experiment = await platform.Api.CreateExperimentAsync(
            new CreateExperimentRequest(
                "split-accuracy",
                [new ExperimentArmRequest("control", $"{baseline.ModelName}:{baseline.ModelVersion}"), new ExperimentArmRequest("treatment", $"{treatment.ModelName}:{treatment.ModelVersion}")],
                "exp=exp-split",
                ExperimentUnits.Event,
                KeyField: EventFields.CorrelationId,
                Mode: ExperimentModes.Split,
                Metric: new ExperimentMetric(ExperimentMetricKinds.Accuracy)),
            default);
        var device = await platform.WaitForReportAsync(
            deviceId,
            d => PlatformFixture.IsActive(d, baseline.ManifestDigest!) && CandidateSlot(d)?.State == ModelSlotStates.Active,
            "the device to run the control and, beside it, the verified treatment");
        Assert.Equal(treatment.ManifestDigest, CandidateSlot(device)!.ManifestDigest);

        // Events split by their salted id: each arm scores its share, and every event is labelled.
        var data = BuiltInDatasets.SensorAnomaly.Load();
        var arms = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var row = 0; row < 200; row++)
        {
            var id = $"x-{row}";
            var prediction = await bus.ScoreAsync(id, WalkingSkeletonTests.EventJson(id, data.GetFeatures(row % data.RowCount)));
            var expectedArm = ArmBuckets.Bucket(id, experiment.Salt) < ArmBuckets.Count / 2 ? Arms.Control : Arms.Candidate;
            Assert.Equal(expectedArm, prediction.Arm);
            Assert.Equal(expectedArm == Arms.Control ? baseline.ModelVersion : treatment.ModelVersion, prediction.ModelVersion);
            arms[prediction.Arm] = arms.GetValueOrDefault(prediction.Arm) + 1;
            await bus.PublishFeedbackAsync(id, data.GetLabel(row % data.RowCount));
        }

        ExperimentReport report = null!;
        await Wait.UntilAsync(
            async () =>
            {
                report = await platform.Api.GetExperimentReportAsync(experiment.Id, default);
                return report.Arms.Sum(a => a.Labelled) == 200 && report.Comparisons.Count > 0;
            },
            "the report to count every labelled event per arm");
        Assert.Equal([arms[Arms.Control], arms[Arms.Candidate]], report.Arms.Select(a => a.Labelled));
        Assert.Equal("two-proportion-z", report.Comparisons[0].Test);
        Assert.True(report.Looks >= 1);

        var charts = Directory.CreateTempSubdirectory("edgeplatform-charts-").FullName;
        var (exit, text) = await Edgectl.RunAsync("experiment", "report", experiment.Id, "--chart-dir", charts, "--server", platform.Endpoints.HttpUrl, "--token", platform.AdminToken);
        Assert.True(exit == 0, text);
        Assert.Contains("two-proportion-z", text, StringComparison.Ordinal);
        Assert.Contains("sequential", text, StringComparison.OrdinalIgnoreCase);
        var chart = Assert.Single(Directory.GetFiles(charts, "*.png"));
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, (await File.ReadAllBytesAsync(chart))[..4]);

        var rollout = await platform.Api.PromoteExperimentAsync(experiment.Id, new PromoteExperimentRequest("treatment", [new(100, null, 0)]), default);
        Assert.Equal(treatment.ManifestDigest, rollout.Model.ManifestDigest);
        device = await platform.WaitForReportAsync(
            deviceId,
            d => PlatformFixture.IsActive(d, treatment.ManifestDigest!) && CandidateSlot(d) is null,
            "the promoted treatment to serve alone");
        var after = await bus.ScoreAsync("after-promotion", WalkingSkeletonTests.EventJson("after-promotion", data.GetFeatures(0)));
        Assert.Equal((treatment.ModelVersion, Arms.Control), (after.ModelVersion, after.Arm));
    }

    [Fact]
    public async Task TamperedCandidatePackage_RefusedByTheDevice_PrimaryKeepsServingAlone()
    {
        var baseline = await platform.EnsureBaselineAsync();
        var tampered = await platform.TrainAsync(seed: 31);
        var (deviceId, bus) = await StartDeviceAsync("e2e-device-y", "exp-tamper");
        var model = (await platform.Api.ListModelsAsync(default)).Single(m => m.ManifestDigest == tampered.ManifestDigest);
        var blob = Path.Combine(platform.ServerDirectory, "blobs", "sha256", ContentDigest.Hex(model.OnnxDigest));
        var bytes = await File.ReadAllBytesAsync(blob);
        bytes[bytes.Length / 2] ^= 0x01;
        await File.WriteAllBytesAsync(blob, bytes);

        var experiment = await platform.Api.CreateExperimentAsync(
            new CreateExperimentRequest(
                "tampered-candidate",
                [new ExperimentArmRequest("control", $"{baseline.ModelName}:{baseline.ModelVersion}"), new ExperimentArmRequest("treatment", $"{tampered.ModelName}:{tampered.ModelVersion}")],
                "exp=exp-tamper",
                ExperimentUnits.Event,
                KeyField: EventFields.CorrelationId,
                Mode: ExperimentModes.Shadow,
                Metric: new ExperimentMetric(ExperimentMetricKinds.Accuracy)),
            default);
        var device = await platform.WaitForReportAsync(
            deviceId,
            d => PlatformFixture.IsActive(d, baseline.ManifestDigest!) && CandidateSlot(d)?.State == ModelSlotStates.Failed,
            "the device to refuse the tampered candidate");

        Assert.Contains("layer-digest check failed", device.Reported!.LastError, StringComparison.Ordinal);
        var prediction = await bus.ScoreAsync("beside-refused", WalkingSkeletonTests.EventJson("beside-refused", BuiltInDatasets.SensorAnomaly.Load().GetFeatures(0)));
        Assert.Equal((baseline.ModelVersion, Arms.Control), (prediction.ModelVersion, prediction.Arm));
        await platform.Api.StopExperimentAsync(experiment.Id, default);
    }

    private static ModelSlotReport? CandidateSlot(DeviceInfo device) =>
        device.Reported?.Slots.SingleOrDefault(s => s.Slot == ModelSlots.Candidate);

    /// <summary>Starts an agent of its own, tagged <c>exp=<paramref name="tag"/></c>, and connects to its local broker.</summary>
    private async Task<(string DeviceId, LocalBus Bus)> StartDeviceAsync(string deviceId, string tag)
    {
        var process = platform.StartAgent(deviceId);
        var announcement = await Wait.ForFileAsync(
            Path.Combine(platform.Root, deviceId, AgentEndpoints.FileName), process, b => JsonSerializer.Deserialize(b, ContractsJsonContext.Default.AgentEndpoints));
        await Wait.UntilAsync(
            async () => (await platform.Api.ListDevicesAsync(default)).Any(d => d.Id == deviceId && d.Status == DeviceStatuses.Online),
            $"{deviceId} online");
        await platform.Api.SetDeviceTagsAsync(deviceId, new Dictionary<string, string> { ["exp"] = tag }, default);
        return (deviceId, await LocalBus.ConnectAsync(deviceId, announcement.LocalBrokerPort));
    }
}
