using System.Net.Http.Json;
using System.Text;
using EdgePlatform.Contracts;
using EdgePlatform.Security.Tuf;

namespace EdgePlatform.ControlPlane.Host.Tests.Apis;

/// <summary>What the trust API says about a model the server trained and published.</summary>
[Collection(TrainedServerFixture.Collection)]
public sealed class TrustApiTrainedModelTests(TrainedServerFixture fixture)
{
    private const string Release = "sensor-anomaly:1";

    [Fact]
    public async Task GetTargets_AfterTraining_ApprovesTheManifestForProduction()
    {
        using var client = fixture.Server.CreateClient();
        var manifest = await ManifestBytesAsync(client);

        var envelope = TufEnvelopes.Parse(await client.GetByteArrayAsync(new Uri("/api/v1/trust/targets", UriKind.Relative)));

        var targets = TufEnvelopes.Read(envelope, TufJsonContext.Default.TargetsMetadata, TufRoles.Targets);
        var entry = Assert.Contains(Release, targets.Targets);
        Assert.Equal(fixture.Run.ManifestDigest, entry.Digest);
        Assert.Equal(manifest.Length, entry.Length);
        Assert.Equal(["production"], entry.Channels);
        Assert.Equal("models/sensor-anomaly", entry.Repository);
        using var targetsKey = fixture.Server.LoadKey(TufRoles.Targets);
        var root = TufEnvelopes.Read(TufEnvelopes.Parse(await client.GetByteArrayAsync(new Uri("/api/v1/trust/root", UriKind.Relative))), TufJsonContext.Default.RootMetadata, TufRoles.Root);
        Assert.Equal([targetsKey.KeyId], TufEnvelopes.ValidRoleSigners(envelope, root, TufRoles.Targets));
    }

    [Fact]
    public async Task RefreshAsync_DevicePinnedAtEnrollment_AuthorizesTheTrainedRelease()
    {
        using var client = fixture.Server.CreateClient();
        var manifest = await ManifestBytesAsync(client);
        using var enrolled = await client.PostAsJsonAsync(
            new Uri("/api/v1/enrollments/devices", UriKind.Relative),
            new EnrollmentRequest("dev-trust", fixture.Server.EnrollmentKeyFor("dev-trust"), null, TestCsr.Pem),
            ContractsJsonContext.Default.EnrollmentRequest);
        enrolled.EnsureSuccessStatusCode();
        var enrollment = (await enrolled.Content.ReadFromJsonAsync(ContractsJsonContext.Default.EnrollmentResponse))!;
        using var device = new TempDirectory();
        TufClient.Pin(device.Path, Encoding.UTF8.GetBytes(enrollment.TrustedRoot));
        var tuf = new TufClient(device.Path, new ApiTufRemote(client), TimeProvider.System);

        var targets = await tuf.RefreshAsync(CancellationToken.None);

        var digest = fixture.Run.ManifestDigest!;
        Assert.Equal(digest, TufClient.Authorize(targets, "sensor-anomaly", "1", "production", digest, manifest.Length).Digest);
        Assert.Equal(
            TufChecks.TargetChannel,
            Assert.Throws<TufVerificationException>(() => TufClient.Authorize(targets, "sensor-anomaly", "1", "canary", digest, manifest.Length)).Check);
        Assert.Equal(
            TufChecks.TargetLength,
            Assert.Throws<TufVerificationException>(() => TufClient.Authorize(targets, "sensor-anomaly", "1", "production", digest, manifest.Length + 1)).Check);
    }

    private async Task<byte[]> ManifestBytesAsync(HttpClient client) =>
        await client.GetByteArrayAsync(new Uri($"/v2/models/sensor-anomaly/manifests/{fixture.Run.ManifestDigest}", UriKind.Relative));
}
