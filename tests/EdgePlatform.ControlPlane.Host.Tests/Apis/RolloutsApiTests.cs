using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.DependencyInjection;

namespace EdgePlatform.ControlPlane.Host.Tests.Apis;

public sealed class RolloutsApiTests(ControlPlaneFactory server) : IClassFixture<ControlPlaneFactory>
{
    private static readonly Uri Rollouts = new("/api/v1/rollouts", UriKind.Relative);

    [Fact]
    public async Task Post_SelectorWithSyntaxError_Returns400NamingSelectorAndPosition()
    {
        using var client = server.CreateClient();

        using var response = await client.PostAsync(Rollouts, DeploymentsApiTests.Json("""{"model": "sensor", "selector": "site in (berlin", "stages": [{"percent": 100, "bakeSeconds": 0}]}"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await DeploymentsApiTests.ReadProblemAsync(response);
        Assert.Equal(["selector"], problem.Errors!.Keys);
        Assert.Equal("selector: at position 16: expected ',' or ')' in the list after 'in', found end of input", problem.Detail);
    }

    [Fact]
    public async Task PutTags_ThenRollout_SelectedDevicesGetTheVersionAndOthersDoNot()
    {
        await server.EnrollAsync("ro-api-berlin");
        await server.EnrollAsync("ro-api-paris");
        using var client = server.CreateClient();
        await PutTagsAsync(client, "ro-api-berlin", new() { ["site"] = "ro-berlin", ["hw"] = "pi4" });
        await PutTagsAsync(client, "ro-api-paris", new() { ["site"] = "ro-paris", ["hw"] = "pi4" });
        var digest = await AddModelAsync("rollout-api", "1");

        using var created = await client.PostAsJsonAsync(
            Rollouts,
            new CreateRolloutRequest("rollout-api:1", "site=ro-berlin and hw in (pi4, pi5)", 5, [new RolloutStage(100, null, 0)], new RolloutGates(MaxFailurePercent: 20)),
            ContractsJsonContext.Default.CreateRolloutRequest);

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var rollout = (await created.Content.ReadFromJsonAsync(ContractsJsonContext.Default.RolloutInfo))!;
        Assert.Equal(["ro-api-berlin"], rollout.Devices.Select(d => d.DeviceId));
        Assert.Equal(digest, (await GetDeviceAsync(client, "ro-api-berlin")).DesiredModelDigest);
        Assert.Null((await GetDeviceAsync(client, "ro-api-paris")).DesiredModelDigest);
        var fetched = await client.GetFromJsonAsync($"/api/v1/rollouts/{rollout.Id}", ContractsJsonContext.Default.RolloutInfo);
        Assert.Equal(1, fetched!.Counts[RolloutDeviceStates.Deploying]);
    }

    [Fact]
    public async Task Pause_AsViewer_Returns403AndAsOperatorPausesAndBothAreAudited()
    {
        await AddModelAsync("rollout-pause", "1");
        using var admin = server.CreateClient();
        using var created = await admin.PostAsJsonAsync(
            Rollouts,
            new CreateRolloutRequest("rollout-pause", "site=nowhere", 0, [new RolloutStage(10, null, 600), new RolloutStage(100, null, 0)], null),
            ContractsJsonContext.Default.CreateRolloutRequest);
        var rollout = (await created.Content.ReadFromJsonAsync(ContractsJsonContext.Default.RolloutInfo))!;
        using var viewer = await WithRoleAsync("rita-viewer", "viewer");
        using var operatorClient = await WithRoleAsync("otto-operator", "operator");

        using var list = await viewer.GetAsync(Rollouts);
        using var refused = await viewer.PostAsync(new Uri($"/api/v1/rollouts/{rollout.Id}/pause", UriKind.Relative), null);
        using var paused = await operatorClient.PostAsync(new Uri($"/api/v1/rollouts/{rollout.Id}/pause", UriKind.Relative), null);
        using var again = await operatorClient.PostAsync(new Uri($"/api/v1/rollouts/{rollout.Id}/pause", UriKind.Relative), null);

        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal(HttpStatusCode.OK, paused.StatusCode);
        Assert.Equal(RolloutStates.Paused, (await paused.Content.ReadFromJsonAsync(ContractsJsonContext.Default.RolloutInfo))!.State);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        var audit = (await admin.GetFromJsonAsync("/api/v1/audit?limit=1000", ContractsJsonContext.Default.IReadOnlyListAuditEntry))!;
        Assert.Contains(audit, e => e.Actor == "rita-viewer" && e.Action == $"POST /api/v1/rollouts/{rollout.Id}/pause" && e.Status == 403);
        Assert.Contains(audit, e => e.Actor == "otto-operator" && e.Action == $"POST /api/v1/rollouts/{rollout.Id}/pause" && e.Status == 200);
    }

    [Fact]
    public async Task Get_UnknownRollout_Returns404()
    {
        using var client = server.CreateClient();

        using var response = await client.GetAsync(new Uri("/api/v1/rollouts/ro-none", UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    private async Task<string> AddModelAsync(string name, string version)
    {
        var digest = "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(name + version)));
        await server.Services.GetRequiredService<IModelStore>().AddModelAsync(
            new ModelRecord("models/" + name, name, version, digest, 10, "sha256:" + new string('2', 64), 20, "c2ln", new Dictionary<string, double>(), DateTimeOffset.UtcNow),
            CancellationToken.None);
        return digest;
    }

    private static async Task PutTagsAsync(HttpClient client, string deviceId, Dictionary<string, string> tags)
    {
        using var response = await client.PutAsJsonAsync($"/api/v1/devices/{deviceId}/tags", new SetTagsRequest(tags), ContractsJsonContext.Default.SetTagsRequest);
        response.EnsureSuccessStatusCode();
    }

    private static async Task<DeviceInfo> GetDeviceAsync(HttpClient client, string deviceId) =>
        (await client.GetFromJsonAsync($"/api/v1/devices/{deviceId}", ContractsJsonContext.Default.DeviceInfo))!;

    private async Task<HttpClient> WithRoleAsync(string name, string role)
    {
        using var admin = server.CreateClient();
        using var response = await admin.PostAsJsonAsync("/api/v1/tokens", new CreateTokenRequest(name, role), ContractsJsonContext.Default.CreateTokenRequest);
        response.EnsureSuccessStatusCode();
        var token = (await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.CreatedToken))!;
        var client = server.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token.Token);
        return client;
    }
}
