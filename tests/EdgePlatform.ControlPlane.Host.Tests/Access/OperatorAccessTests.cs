using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Tests.Apis;

namespace EdgePlatform.ControlPlane.Host.Tests.Access;

/// <summary>Nothing is open by default; each role does only its part; every refusal and change is audited.</summary>
public sealed class OperatorAccessTests(ControlPlaneFactory server) : IClassFixture<ControlPlaneFactory>
{
    [Fact]
    public async Task ApiCall_WithoutToken_Returns401AndIsAudited()
    {
        using var anonymous = server.CreateAnonymousClient();

        using var response = await anonymous.GetAsync("/api/v1/devices");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("Bearer", (await DeploymentsApiTests.ReadProblemAsync(response)).Detail, StringComparison.Ordinal);
        Assert.Contains(await AuditAsync(), e => e.Actor == "anonymous" && e.Action == "GET /api/v1/devices" && e.Status == 401);
    }

    [Fact]
    public async Task ApiCall_WithRevokedToken_Returns401AndIsAudited()
    {
        var created = await CreateTokenAsync("revoked-operator", "operator");
        using var admin = server.CreateClient();
        (await admin.DeleteAsync($"/api/v1/tokens/{created.Info.Id}")).EnsureSuccessStatusCode();
        using var revoked = WithToken(created.Token);

        using var response = await revoked.GetAsync("/api/v1/models");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains(await AuditAsync(), e => e.Action == "GET /api/v1/models" && e.Status == 401);
    }

    [Fact]
    public async Task Deploy_AsViewer_Returns403AndIsAuditedWithTheViewersName()
    {
        var viewer = await CreateTokenAsync("vera-viewer", "viewer");
        using var client = WithToken(viewer.Token);

        using var read = await client.GetAsync("/api/v1/devices");
        using var deploy = await client.PostAsync("/api/v1/deployments", new StringContent("""{"model":"x","allDevices":true}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, deploy.StatusCode);
        Assert.Contains(await AuditAsync(), e => e.Actor == "vera-viewer" && e.Action == "POST /api/v1/deployments" && e.Status == 403);
    }

    [Fact]
    public async Task RotateRoot_AsDataScientist_Returns403ButTrainingIsAllowed()
    {
        var scientist = await CreateTokenAsync("dana-scientist", "data-scientist");
        using var client = WithToken(scientist.Token);

        using var rotate = await client.PutAsync("/api/v1/trust/root", new ByteArrayContent("{}"u8.ToArray()));
        using var train = await client.PostAsync("/api/v1/training-runs", new StringContent("""{"dataset":"no-such-dataset"}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.Forbidden, rotate.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, train.StatusCode);
        Assert.Contains(await AuditAsync(), e => e.Actor == "dana-scientist" && e.Action == "PUT /api/v1/trust/root" && e.Status == 403);
    }

    [Fact]
    public async Task MutatingCall_Succeeding_IsAuditedWithWhoWhatAndResult()
    {
        var created = await CreateTokenAsync("olga-operator", "operator");

        var entries = await AuditAsync();

        Assert.Contains(entries, e => e.Actor == "initial-admin" && e.Action == "POST /api/v1/tokens" && e.Status == 200);
        Assert.Equal("olga-operator", created.Info.Name);
    }

    [Fact]
    public async Task Tokens_StoredHashed_SecretNeverListed()
    {
        var created = await CreateTokenAsync("hashed-check", "viewer");
        using var admin = server.CreateClient();

        var listed = await admin.GetStringAsync("/api/v1/tokens");
        var secret = created.Token[(created.Token.LastIndexOf('_') + 1)..];

        Assert.DoesNotContain(secret, listed, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, await File.ReadAllTextAsync(Path.Combine(server.DataDirectory, "edgeplatform.db")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateToken_UnknownRole_Returns400NamingRoles()
    {
        using var admin = server.CreateClient();

        using var response = await admin.PostAsJsonAsync("/api/v1/tokens", new CreateTokenRequest("x", "superuser"), ContractsJsonContext.Default.CreateTokenRequest);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("admin, operator, data-scientist, viewer", (await DeploymentsApiTests.ReadProblemAsync(response)).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EnrollmentGroup_DerivedDeviceKeyEnrolls_GroupKeyNeverListed_RevokedGroupRefused()
    {
        using var admin = server.CreateClient();
        using var created = await admin.PostAsJsonAsync("/api/v1/enrollments", new CreateEnrollmentGroupRequest("site-berlin"), ContractsJsonContext.Default.CreateEnrollmentGroupRequest);
        var group = (await created.Content.ReadFromJsonAsync(ContractsJsonContext.Default.EnrollmentGroupInfo))!;
        var deviceKey = EdgePlatform.Security.EnrollmentKeys.Derive(group.Key!, "dev-berlin-1");

        using var anonymous = server.CreateAnonymousClient();
        using var enrolled = await anonymous.PostAsJsonAsync("/api/v1/enrollments/devices", new EnrollmentRequest("dev-berlin-1", deviceKey, null, TestCsr.Pem), ContractsJsonContext.Default.EnrollmentRequest);
        var listed = await admin.GetStringAsync("/api/v1/enrollments");
        (await admin.DeleteAsync($"/api/v1/enrollments/{group.Id}")).EnsureSuccessStatusCode();
        using var afterRevoke = await anonymous.PostAsJsonAsync(
            "/api/v1/enrollments/devices",
            new EnrollmentRequest("dev-berlin-2", EdgePlatform.Security.EnrollmentKeys.Derive(group.Key!, "dev-berlin-2"), null, TestCsr.Pem),
            ContractsJsonContext.Default.EnrollmentRequest);

        Assert.Equal(HttpStatusCode.OK, enrolled.StatusCode);
        Assert.DoesNotContain(group.Key!, listed, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, afterRevoke.StatusCode);
    }

    [Fact]
    public void InitialAdminToken_WrittenOwnerOnly()
    {
        using var client = server.CreateClient();

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(server.AdminTokenFile));
    }

    [Fact]
    public async Task InitialAdminToken_FileAlreadyThereAndReadableByOthers_IsReplacedByAnOwnerOnlyOne()
    {
        var directory = Directory.CreateTempSubdirectory("edgeplatform-token-file-").FullName;
        try
        {
            var tokenFile = Path.Combine(directory, "admin.token");
            await File.WriteAllTextAsync(tokenFile, "left over");
            File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

            await using (var fresh = ControlPlaneFactory.Over(directory))
            {
                using var client = fresh.CreateClient();
                using var response = await client.GetAsync(new Uri("/api/v1/devices", UriKind.Relative));

                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }

            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));
            Assert.StartsWith("ept_", await File.ReadAllTextAsync(tokenFile), StringComparison.Ordinal);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    private async Task<CreatedToken> CreateTokenAsync(string name, string role)
    {
        using var admin = server.CreateClient();
        using var response = await admin.PostAsJsonAsync("/api/v1/tokens", new CreateTokenRequest(name, role), ContractsJsonContext.Default.CreateTokenRequest);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.CreatedToken))!;
    }

    private async Task<IReadOnlyList<AuditEntry>> AuditAsync()
    {
        using var admin = server.CreateClient();
        return (await admin.GetFromJsonAsync("/api/v1/audit?limit=1000", ContractsJsonContext.Default.IReadOnlyListAuditEntry))!;
    }

    private HttpClient WithToken(string token)
    {
        var client = server.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }
}
