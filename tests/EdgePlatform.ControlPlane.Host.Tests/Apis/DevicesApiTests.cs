using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.Security.Tuf;

namespace EdgePlatform.ControlPlane.Host.Tests.Apis;

public sealed class DevicesApiTests(ControlPlaneFactory server) : IClassFixture<ControlPlaneFactory>
{
    private static readonly Uri Enrollments = new("/api/v1/enrollments/devices", UriKind.Relative);

    [Fact]
    public async Task GetDevice_Unknown_Returns404Problem()
    {
        using var client = server.CreateClient();

        using var response = await client.GetAsync(new Uri("/api/v1/devices/unknown", UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("device 'unknown' is not enrolled", (await DeploymentsApiTests.ReadProblemAsync(response)).Detail);
    }

    [Fact]
    public async Task Enroll_WrongKey_Returns401()
    {
        using var client = server.CreateClient();

        using var response = await client.PostAsJsonAsync(Enrollments, new EnrollmentRequest("dev-wrong-key", new string('0', 64), null, TestCsr.Pem), ContractsJsonContext.Default.EnrollmentRequest);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("the enrollment key is not valid", (await DeploymentsApiTests.ReadProblemAsync(response)).Detail);
        using var lookup = await client.GetAsync(new Uri("/api/v1/devices/dev-wrong-key", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, lookup.StatusCode);
    }

    [Fact]
    public async Task Enroll_InvalidDeviceId_Returns400NamingDeviceId()
    {
        using var client = server.CreateClient();

        using var response = await client.PostAsJsonAsync(Enrollments, new EnrollmentRequest("Not Valid", server.EnrollmentKeyFor("dev-invalid"), null, TestCsr.Pem), ContractsJsonContext.Default.EnrollmentRequest);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(["deviceId"], (await DeploymentsApiTests.ReadProblemAsync(response)).Errors!.Keys);
    }

    [Fact]
    public async Task Enroll_KeyFromTheDataDirectory_Returns200WithAPinnableRootAndDeviceCertificate()
    {
        using var client = server.CreateClient();

        using var response = await client.PostAsJsonAsync(
            Enrollments,
            new EnrollmentRequest("dev-enroll", server.EnrollmentKeyFor("dev-enroll"), new Dictionary<string, string> { ["site"] = "lab" }, TestCsr.Pem),
            ContractsJsonContext.Default.EnrollmentRequest);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var enrollment = (await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.EnrollmentResponse))!;
        Assert.Equal("dev-enroll", enrollment.DeviceId);
        using var certificate = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(enrollment.Certificate);
        Assert.Equal("CN=dev-enroll", certificate.Subject);
        Assert.Contains("BEGIN CERTIFICATE", enrollment.CaCertificate, StringComparison.Ordinal);
        Assert.Equal("127.0.0.1", enrollment.MqttHost);
        Assert.NotEqual(0, enrollment.MqttPort);
        var endpoints = JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(server.DataDirectory, "server.json")), ContractsJsonContext.Default.ServerEndpoints)!;
        Assert.Equal(endpoints.HttpUrl, enrollment.MetadataUrl);
        var rootBytes = Encoding.UTF8.GetBytes(enrollment.TrustedRoot);
        Assert.NotEmpty(TufEnvelopes.Parse(rootBytes).Signatures);
        using (var trustDirectory = new TempDirectory())
        {
            var pinned = TufClient.Pin(trustDirectory.Path, rootBytes);
            Assert.Equal(1, pinned.Version);
            using var targetsKey = server.LoadKey(TufRoles.Targets);
            Assert.Equal([targetsKey.KeyId], pinned.Roles[TufRoles.Targets].KeyIds);
        }

        var device = (await client.GetFromJsonAsync(new Uri("/api/v1/devices/dev-enroll", UriKind.Relative), ContractsJsonContext.Default.DeviceInfo))!;
        Assert.Equal(DeviceStatuses.NeverConnected, device.Status);
        Assert.Equal("lab", device.Tags["site"]);
        Assert.Equal(0, device.DesiredVersion);
    }

    [Fact]
    public async Task Enroll_MalformedJson_Returns400()
    {
        using var client = server.CreateClient();

        using var response = await client.PostAsync(Enrollments, DeploymentsApiTests.Json("{\"deviceId\": "));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith("the body is not valid JSON", (await DeploymentsApiTests.ReadProblemAsync(response)).Detail, StringComparison.Ordinal);
    }
}
