using System.Net;
using System.Net.Http.Json;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.Security.Tuf;
using Microsoft.Extensions.DependencyInjection;

namespace EdgePlatform.ControlPlane.Host.Tests.Hosting;

public class RestartTests
{
    [Fact]
    public async Task Start_OnAnExistingDataDirectory_ReusesTheSigningKeysAndTheRoot()
    {
        var directory = Directory.CreateTempSubdirectory("edgeplatform-restart-tests-").FullName;
        try
        {
            Dictionary<string, string> keysBefore;
            byte[] rootBefore;
            await using (var first = ControlPlaneFactory.Over(directory))
            {
                using var client = first.CreateClient();
                keysBefore = KeyFiles(directory);
                rootBefore = await client.GetByteArrayAsync(new Uri("/api/v1/trust/root", UriKind.Relative));
            }

            await using var second = ControlPlaneFactory.Over(directory);
            using var again = second.CreateClient();

            Assert.Equal(keysBefore, KeyFiles(directory));
            Assert.Equal(rootBefore, await again.GetByteArrayAsync(new Uri("/api/v1/trust/root", UriKind.Relative)));
            using var rotated = await again.GetAsync(new Uri("/api/v1/trust/root/2", UriKind.Relative));
            Assert.Equal(HttpStatusCode.NotFound, rotated.StatusCode);

            // What the restarted server signs still verifies against the root devices pinned before.
            var root = TufEnvelopes.Read(TufEnvelopes.Parse(rootBefore), TufJsonContext.Default.RootMetadata, TufRoles.Root);
            var timestamp = TufEnvelopes.Parse(await again.GetByteArrayAsync(new Uri("/api/v1/trust/timestamp", UriKind.Relative)));
            TufEnvelopes.RequireThreshold(timestamp, root, TufRoles.Timestamp, TufChecks.TimestampSignature);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Start_OnAnExistingDataDirectory_KeepsKeysDevicesAndCredentials()
    {
        EnrollmentResponse before;
        string enrollmentKey;
        var directory = Directory.CreateTempSubdirectory("edgeplatform-restart-tests-").FullName;
        try
        {
            await using (var first = ControlPlaneFactory.Over(directory))
            {
                using var client = first.CreateClient();
                enrollmentKey = first.EnrollmentKeyFor("dev-restart");
                using var response = await client.PostAsJsonAsync(
                    new Uri("/api/v1/enrollments/devices", UriKind.Relative),
                    new EnrollmentRequest("dev-restart", enrollmentKey, null, TestCsr.Pem),
                    ContractsJsonContext.Default.EnrollmentRequest);
                before = (await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.EnrollmentResponse))!;
            }

            await using var second = ControlPlaneFactory.Over(directory);
            using var again = second.CreateClient();

            Assert.Equal(enrollmentKey, second.EnrollmentKeyFor("dev-restart"));
            using var device = await again.GetAsync(new Uri("/api/v1/devices/dev-restart", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, device.StatusCode);
            var enrollment = second.Services.GetRequiredService<EnrollmentService>();
            using var certificate = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(before.Certificate);
            Assert.Equal("dev-restart", (await enrollment.IdentifyAsync(certificate, CancellationToken.None)).DeviceId);
            using var reEnrolled = await again.PostAsJsonAsync(
                new Uri("/api/v1/enrollments/devices", UriKind.Relative),
                new EnrollmentRequest("dev-restart", enrollmentKey, null, TestCsr.Pem),
                ContractsJsonContext.Default.EnrollmentRequest);
            var after = (await reEnrolled.Content.ReadFromJsonAsync(ContractsJsonContext.Default.EnrollmentResponse))!;
            Assert.Equal(before.TrustedRoot, after.TrustedRoot);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    private static Dictionary<string, string> KeyFiles(string directory) =>
        TufRoles.All.ToDictionary(role => role, role => File.ReadAllText(Path.Combine(directory, "keys", role + ".pem")));
}
