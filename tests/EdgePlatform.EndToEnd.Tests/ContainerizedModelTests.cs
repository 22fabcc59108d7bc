using System.Diagnostics;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Tests.Datasets;
using EdgePlatform.Training.Datasets;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// A release containerized by the control plane, deployed to a device with the container runtime:
/// the agent pulls the image from the control plane's registry with its own token, checks it
/// against the signed targets, runs it in the test script's dockerd and scores through it, as the
/// other device scores the same release in-process.
/// </summary>
[Trait("Category", "EndToEnd")]
[Collection(SharedPlatform.Name)]
public sealed class ContainerizedModelTests(PlatformFixture platform)
{
    private const double Tolerance = 1e-5;

    [Fact]
    public async Task ContainerizedRelease_DeployedToRunInItsContainer_ScoresAsTheSameReleaseInProcessAndReportsTelemetry()
    {
        var docker = TestServices.Require(PlatformFixture.DockerVariable, "dockerd (the test script starts one of its own)");
        TestServices.Require(PlatformFixture.ScorerBaseVariable, "the scorer base image (deployment/scripts/build-scorer-image.sh)");
        var release = await platform.EnsureBaselineAsync();
        var version = release.ModelVersion ?? throw new InvalidOperationException("the baseline run has no model version");
        var reference = $"{release.ModelName}:{version}";

        var image = await platform.Api.ContainerizeModelAsync(release.ModelName, version, default);
        Assert.Contains(image.Platforms, p => p.Platform == "linux/amd64");

        try
        {
            var deployment = await platform.Api.DeployAsync(
                new CreateDeploymentRequest(reference, [PlatformFixture.DeviceB], null, ModelRuntimeKinds.Container), default);
            await WaitForAppliedAsync(deployment.Id, "device B to run the release in its container");
            Assert.Contains(PlatformFixture.DeviceB, await ContainerDevicesAsync(docker));

            var dataset = BuiltInDatasets.SensorAnomaly.Load();
            var rows = Enumerable.Range(0, dataset.RowCount).Where(dataset.GetLabel).Take(5)
                .Concat(Enumerable.Range(0, dataset.RowCount).Where(r => !dataset.GetLabel(r)).Take(5))
                .ToList();
            var before = await ScoredSoFarAsync(PlatformFixture.DeviceB);
            foreach (var row in rows)
            {
                var id = $"container-row-{row}";
                var payload = WalkingSkeletonTests.EventJson(id, dataset.GetFeatures(row));

                var inProcess = await platform.Bus(PlatformFixture.DeviceA).ScoreAsync(id, payload);
                var inContainer = await platform.Bus(PlatformFixture.DeviceB).ScoreAsync(id, payload);

                Assert.Equal(version, inContainer.ModelVersion);
                Assert.Equal(inProcess.Label, inContainer.Label);
                AssertClose(inProcess.Probability!.Value, inContainer.Probability!.Value);
                AssertClose(inProcess.Score!.Value, inContainer.Score!.Value);
            }

            await Wait.UntilAsync(
                async () => await ScoredSoFarAsync(PlatformFixture.DeviceB) >= before + rows.Count,
                "the cloud's telemetry to count the events scored through the container");
        }
        finally
        {
            // The other tests of this platform expect the release in-process on both devices.
            var back = await platform.Api.DeployAsync(new CreateDeploymentRequest(reference, [PlatformFixture.DeviceB], null), default);
            await WaitForAppliedAsync(back.Id, "device B to run the release in-process again");
            await Wait.UntilAsync(
                async () => !(await ContainerDevicesAsync(docker)).Contains(PlatformFixture.DeviceB),
                "device B's container to be removed once the release runs in-process");
        }
    }

    private async Task WaitForAppliedAsync(string deploymentId, string what) =>
        await platform.WaitForReportAsync(
            PlatformFixture.DeviceB,
            d => d.Reported is { } reported
                && reported.DesiredVersion == d.DesiredVersion
                && reported.LastError is null
                && reported.Slots.All(s => s.Slot == ModelSlots.Primary && s.State == ModelSlotStates.Active),
            $"{what} ({deploymentId})");

    private async Task<long> ScoredSoFarAsync(string deviceId) =>
        (await platform.Api.GetTelemetryAsync(deviceId, default)).SingleOrDefault()?.Latest.EventsScored ?? 0;

    private static void AssertClose(double expected, double actual) =>
        Assert.InRange(Math.Abs(expected - actual), 0, Tolerance * Math.Max(1, Math.Abs(expected)));

    /// <summary>The devices whose agents have a container running in the engine, read as an operator would with the docker CLI.</summary>
    private static async Task<IReadOnlyList<string>> ContainerDevicesAsync(string docker)
    {
        var start = new ProcessStartInfo("docker", ["ps", "--format", "{{.Label \"org.edgeplatform.agent.device\"}}"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["DOCKER_HOST"] = docker;
        using var process = Process.Start(start) ?? throw new InvalidOperationException("docker did not start");
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"docker ps failed: {error}");
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
    }
}
