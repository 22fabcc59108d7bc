using EdgePlatform.Cli;
using EdgePlatform.Cli.Processes;
using EdgePlatform.Contracts;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// Attestation with real agent processes: an unchanged agent build attests, receives its
/// deployment and pulls it; a changed build is refused, shows why, and gets no deployment.
/// </summary>
[Trait("Category", "EndToEnd")]
[Collection(SharedPlatform.Name)]
public sealed class DeviceAttestationTests(PlatformFixture platform)
{
    [Fact]
    public async Task FreshDevice_EnrollAttestDeployPull_ActiveWithAVerifiedAttestation()
    {
        var run = await platform.EnsureBaselineAsync();

        foreach (var deviceId in platform.Agents.Keys.Where(k => k is PlatformFixture.DeviceA or PlatformFixture.DeviceB))
        {
            // Installing the model changed what the device runs, so it attested again, measuring it.
            var device = await platform.WaitForReportAsync(
                deviceId,
                d => d.Attestation?.Measurements?.Any(m => m.Kind == MeasurementKinds.Model) == true,
                $"{deviceId} to attest with its installed model measured");
            Assert.True(PlatformFixture.IsActive(device, run.ManifestDigest!));
            Assert.Equal(AttestationStates.Verified, device.Attestation!.State);
            Assert.Contains(device.Attestation.Measurements!, m => m.Kind == MeasurementKinds.AgentBuild);
        }
    }

    [Fact]
    public async Task ChangedAgentBinary_AttestationFailsAndTheDeviceGetsNoDeployment()
    {
        var run = await platform.EnsureBaselineAsync();
        const string deviceId = "e2e-changed-build";
        var build = Directory.CreateTempSubdirectory("edgeplatform-changed-agent-").FullName;
        try
        {
            var original = Path.GetDirectoryName(HostProcess.AgentAssembly)!;
            CopyDirectory(original, build);

            // One more library beside the agent: the build no longer measures as the released one.
            await File.WriteAllBytesAsync(Path.Combine(build, "EdgePlatform.Injected.dll"), [0x4d, 0x5a, 0x90, 0x00]);
            platform.Agents[deviceId] = platform.StartAgent(deviceId, Path.Combine(build, Path.GetFileName(HostProcess.AgentAssembly)));

            var device = await platform.WaitForReportAsync(
                deviceId, d => d.Attestation?.State == AttestationStates.Failed, "the changed agent's attestation to fail");
            Assert.Contains("measurement check failed: agent build", device.Attestation!.Reason, StringComparison.Ordinal);

            var refused = await Assert.ThrowsAsync<CliException>(
                () => platform.Api.DeployAsync(new CreateDeploymentRequest($"{run.ModelName}:{run.ModelVersion}", [deviceId], null), default));
            Assert.Contains("attestation failed", refused.Message, StringComparison.Ordinal);
            var after = await platform.Api.GetDeviceAsync(deviceId, default);
            Assert.Equal(0, after.DesiredVersion);
            Assert.DoesNotContain(after.Reported?.Slots ?? [], s => s.State == ModelSlotStates.Active);
        }
        finally
        {
            if (platform.Agents.Remove(deviceId, out var agent))
            {
                await agent.DisposeAsync();
            }

            Directory.Delete(build, recursive: true);
        }
    }

    private static void CopyDirectory(string source, string target)
    {
        foreach (var directory in Directory.EnumerateDirectories(source, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(target, Path.GetRelativePath(source, directory)));
        }

        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(target, Path.GetRelativePath(source, file)));
        }
    }
}
