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

    [Theory]
    [InlineData("nested", "at position 4097: expected a selector of at most 4096 characters, found 60011 characters")]
    [InlineData("flat", "at position 4097: expected a selector of at most 4096 characters, found 799999 characters")]
    public async Task Post_SelectorThatOnceOverflowedTheStack_Returns400AndTheServerKeepsServing(string shape, string detail)
    {
        var selector = shape == "nested"
            ? new string('(', 30_000) + "site=berlin" + new string(')', 30_000)
            : string.Join(',', Enumerable.Repeat("a=b", 200_000));
        using var client = server.CreateClient();

        using var response = await client.PostAsync(
            Rollouts,
            JsonContent.Create(new CreateRolloutRequest("sensor", selector, 0, [new RolloutStage(100, null, 0)], null), ContractsJsonContext.Default.CreateRolloutRequest));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal($"selector: {detail}", (await DeploymentsApiTests.ReadProblemAsync(response)).Detail);
        using var after = await client.GetAsync(Rollouts);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
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
        Assert.Equal(1, rollout.Counts![RolloutDeviceStates.Deploying]);
        Assert.Equal(digest, (await GetDeviceAsync(client, "ro-api-berlin")).DesiredManifestDigest);
        Assert.Null((await GetDeviceAsync(client, "ro-api-paris")).DesiredManifestDigest);
        var fetched = await client.GetFromJsonAsync($"/api/v1/rollouts/{rollout.Id}", ContractsJsonContext.Default.RolloutDetail);
        Assert.Equal(1, fetched!.Rollout.Counts![RolloutDeviceStates.Deploying]);
        var device = Assert.Single(fetched.Devices);
        Assert.Equal("ro-api-berlin", device.DeviceId);
        Assert.Equal([RolloutDeviceStates.Pending, RolloutDeviceStates.Deploying], device.History!.Select(h => h.State));
        Assert.Null(fetched.NextAfter);
    }

    [Fact]
    public async Task Get_List_ReturnsCountsPerStateAndStageWithoutDeviceLists()
    {
        await AddModelAsync("rollout-list", "1");
        for (var i = 0; i < 3; i++)
        {
            await server.EnrollAsync($"ro-list-{i}");
        }

        using var client = server.CreateClient();
        for (var i = 0; i < 3; i++)
        {
            await PutTagsAsync(client, $"ro-list-{i}", new() { ["site"] = "ro-list" });
        }

        var rollout = await CreateAsync(client, new CreateRolloutRequest("rollout-list:1", "site=ro-list", 0, [new RolloutStage(100, null, 600)], null));

        using var response = await client.GetAsync(Rollouts);
        var body = await response.Content.ReadAsStringAsync();
        var listed = System.Text.Json.JsonSerializer.Deserialize(body, ContractsJsonContext.Default.IReadOnlyListRolloutInfo)!.Single(r => r.Id == rollout.Id);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain("\"devices\"", body, StringComparison.Ordinal);
        Assert.DoesNotContain("ro-list-0", body, StringComparison.Ordinal);
        Assert.Equal(3, listed.Counts![RolloutDeviceStates.Deploying]);
        Assert.Equal(3, listed.StageCounts![0][RolloutDeviceStates.Deploying]);
        Assert.Equal(RolloutStates.Running, listed.State);
    }

    [Fact]
    public async Task Get_OneRolloutWithStateLimitAndAfter_ReturnsThatPageAndTheNextCursor()
    {
        await AddModelAsync("rollout-page", "1");
        using var client = server.CreateClient();
        for (var i = 0; i < 5; i++)
        {
            await server.EnrollAsync($"ro-page-{i}");
            await PutTagsAsync(client, $"ro-page-{i}", new() { ["site"] = "ro-page" });
        }

        var rollout = await CreateAsync(client, new CreateRolloutRequest("rollout-page:1", "site=ro-page", 0, [new RolloutStage(100, null, 600)], null));

        var first = await client.GetFromJsonAsync($"/api/v1/rollouts/{rollout.Id}?state=deploying&limit=2", ContractsJsonContext.Default.RolloutDetail);
        var second = await client.GetFromJsonAsync($"/api/v1/rollouts/{rollout.Id}?state=deploying&limit=2&after={first!.NextAfter}", ContractsJsonContext.Default.RolloutDetail);
        var failed = await client.GetFromJsonAsync($"/api/v1/rollouts/{rollout.Id}?state=failed", ContractsJsonContext.Default.RolloutDetail);
        using var bad = await client.GetAsync(new Uri($"/api/v1/rollouts/{rollout.Id}?state=broken", UriKind.Relative));

        Assert.Equal(["ro-page-0", "ro-page-1"], first.Devices.Select(d => d.DeviceId));
        Assert.Equal("ro-page-1", first.NextAfter);
        Assert.Equal(["ro-page-2", "ro-page-3"], second!.Devices.Select(d => d.DeviceId));
        Assert.Empty(failed!.Devices);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal(["state"], (await DeploymentsApiTests.ReadProblemAsync(bad)).Errors!.Keys);
    }

    [Fact]
    public async Task PutAlias_ThenRolloutByAlias_PinsTheVersionAndShowsBoth()
    {
        var v1 = await AddModelAsync("rollout-alias", "1");
        var v2 = await AddModelAsync("rollout-alias", "2");
        using var client = server.CreateClient();
        using var scientist = await WithRoleAsync("dana-scientist", "data-scientist");
        using var viewer = await WithRoleAsync("vic-viewer", "viewer");

        using var set = await scientist.PutAsJsonAsync("/api/v1/models/rollout-alias/aliases/production", new SetModelAliasRequest("2"), ContractsJsonContext.Default.SetModelAliasRequest);
        using var refused = await viewer.PutAsJsonAsync("/api/v1/models/rollout-alias/aliases/production", new SetModelAliasRequest("1"), ContractsJsonContext.Default.SetModelAliasRequest);
        var rollout = await CreateAsync(client, new CreateRolloutRequest("rollout-alias@production", "site=nowhere", 0, [new RolloutStage(100, null, 0)], null));
        using var moved = await client.PutAsJsonAsync("/api/v1/models/rollout-alias/aliases/production", new SetModelAliasRequest("1"), ContractsJsonContext.Default.SetModelAliasRequest);
        var aliases = await viewer.GetFromJsonAsync("/api/v1/models/rollout-alias/aliases", ContractsJsonContext.Default.IReadOnlyListModelAlias);
        var byAlias = await viewer.GetFromJsonAsync("/api/v1/models/rollout-alias@production", ContractsJsonContext.Default.ModelInfo);
        var after = await client.GetFromJsonAsync($"/api/v1/rollouts/{rollout.Id}", ContractsJsonContext.Default.RolloutDetail);

        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        Assert.Equal("production", rollout.ModelAlias);
        Assert.Equal(v2, rollout.Model.ManifestDigest);
        Assert.Equal(v2, after!.Rollout.Model.ManifestDigest);
        var alias = Assert.Single(aliases!);
        Assert.Equal(("production", "1", "initial-admin"), (alias.Alias, alias.Version, alias.UpdatedBy));
        Assert.Equal(v1, byAlias!.ManifestDigest);
        var audit = (await client.GetFromJsonAsync("/api/v1/audit?limit=1000", ContractsJsonContext.Default.IReadOnlyListAuditEntry))!;
        Assert.Contains(audit, e => e.Actor == "dana-scientist" && e.Action == "PUT /api/v1/models/rollout-alias/aliases/production" && e.Status == 200);
        Assert.Contains(audit, e => e.Actor == "vic-viewer" && e.Action == "PUT /api/v1/models/rollout-alias/aliases/production" && e.Status == 403);
    }

    [Theory]
    [InlineData("/api/v1/models/rollout-badalias/aliases/production", """{"version": "9"}""", "version", "version: model 'rollout-badalias' has no version '9'")]
    [InlineData("/api/v1/models/rollout-badalias/aliases/Prod", """{"version": "1"}""", "alias", "alias: must start with a lowercase letter (found 'P'), so it cannot be taken for a version")]
    [InlineData("/api/v1/models/rollout-badalias/aliases/production", "{}", "version", "version: is required: the version of 'rollout-badalias' the alias names, such as {\"version\": \"7\"}")]
    public async Task PutAlias_BadRequest_Returns400NamingTheField(string path, string body, string field, string detail)
    {
        await AddModelAsync("rollout-badalias", "1");
        using var client = server.CreateClient();

        using var response = await client.PutAsync(new Uri(path, UriKind.Relative), DeploymentsApiTests.Json(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await DeploymentsApiTests.ReadProblemAsync(response);
        Assert.Equal([field], problem.Errors!.Keys);
        Assert.Equal(detail, problem.Detail);
    }

    [Fact]
    public async Task Post_UnknownAlias_Returns400NamingIt()
    {
        await AddModelAsync("rollout-noalias", "1");
        using var client = server.CreateClient();

        using var response = await client.PostAsync(Rollouts, DeploymentsApiTests.Json("""{"model": "rollout-noalias@production", "selector": "site=x", "stages": [{"percent": 100, "bakeSeconds": 0}]}"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await DeploymentsApiTests.ReadProblemAsync(response);
        Assert.Equal(["model"], problem.Errors!.Keys);
        Assert.Contains("model 'rollout-noalias' has no alias 'production'", problem.Detail, StringComparison.Ordinal);
    }

    private static async Task<RolloutInfo> CreateAsync(HttpClient client, CreateRolloutRequest request)
    {
        using var created = await client.PostAsJsonAsync(Rollouts, request, ContractsJsonContext.Default.CreateRolloutRequest);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return (await created.Content.ReadFromJsonAsync(ContractsJsonContext.Default.RolloutInfo))!;
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
