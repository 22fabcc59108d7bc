using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Models;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.DependencyInjection;

namespace EdgePlatform.ControlPlane.Host.Tests.Apis;

public sealed class ExperimentsApiTests(ControlPlaneFactory server) : IClassFixture<ControlPlaneFactory>
{
    private static readonly Uri Experiments = new("/api/v1/experiments", UriKind.Relative);

    [Fact]
    public async Task Post_OneArm_Returns400NamingArms()
    {
        using var client = server.CreateClient();

        using var response = await client.PostAsync(Experiments, DeploymentsApiTests.Json("""{"name": "x", "arms": [{"name": "a", "model": "m:1"}], "selector": "site=a", "unit": "device", "metric": {"kind": "accuracy"}}"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(["arms"], (await DeploymentsApiTests.ReadProblemAsync(response)).Errors!.Keys);
    }

    [Fact]
    public async Task Create_ThenReportStopAndList_DeliversArmsAndRestoresOnStop()
    {
        await server.EnrollAsync("ex-api-1");
        using var client = server.CreateClient();
        using (var tags = await client.PutAsJsonAsync("/api/v1/devices/ex-api-1/tags", new SetTagsRequest(new Dictionary<string, string> { ["site"] = "ex-api" }), ContractsJsonContext.Default.SetTagsRequest))
        {
            tags.EnsureSuccessStatusCode();
        }

        await PublishAsync("ex-api-model", "1");
        await PublishAsync("ex-api-model", "2");

        using var created = await client.PostAsJsonAsync(
            Experiments,
            new CreateExperimentRequest("api", [new ExperimentArmRequest("control", "ex-api-model:1"), new ExperimentArmRequest("candidate", "ex-api-model:2")], "site=ex-api", ExperimentUnits.Device, Metric: new ExperimentMetric(ExperimentMetricKinds.Accuracy)),
            ContractsJsonContext.Default.CreateExperimentRequest);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var experiment = (await created.Content.ReadFromJsonAsync(ContractsJsonContext.Default.ExperimentInfo))!;
        var device = (await client.GetFromJsonAsync("/api/v1/devices/ex-api-1", ContractsJsonContext.Default.DeviceInfo))!;
        Assert.NotNull(device.DesiredManifestDigest);

        var report = (await client.GetFromJsonAsync($"/api/v1/experiments/{experiment.Id}/report", ContractsJsonContext.Default.ExperimentReport))!;
        Assert.Equal(1, report.Looks);
        Assert.Equal(["control", "candidate"], report.Arms.Select(a => a.Arm));

        using var stopped = await client.PostAsync(new Uri($"/api/v1/experiments/{experiment.Id}/stop", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.OK, stopped.StatusCode);
        Assert.Equal(ExperimentStates.Stopped, (await stopped.Content.ReadFromJsonAsync(ContractsJsonContext.Default.ExperimentInfo))!.State);
        Assert.Null((await client.GetFromJsonAsync("/api/v1/devices/ex-api-1", ContractsJsonContext.Default.DeviceInfo))!.DesiredManifestDigest);
        var list = (await client.GetFromJsonAsync(Experiments, ContractsJsonContext.Default.IReadOnlyListExperimentInfo))!;
        Assert.Contains(list, e => e.Id == experiment.Id && e.State == ExperimentStates.Stopped);
    }

    [Fact]
    public async Task Viewer_ReadsAndPlansButIsRefusedCreateStopAndPromote_AndTheAuditLogSaysSo()
    {
        using var viewer = await WithRoleAsync("vera-viewer", "viewer");

        using var create = await viewer.PostAsync(Experiments, DeploymentsApiTests.Json("{}"));
        using var stop = await viewer.PostAsync(new Uri("/api/v1/experiments/ex-1/stop", UriKind.Relative), null);
        using var promote = await viewer.PostAsync(new Uri("/api/v1/experiments/ex-1/promote", UriKind.Relative), DeploymentsApiTests.Json("{}"));
        using var list = await viewer.GetAsync(Experiments);
        using var power = await viewer.PostAsJsonAsync(new Uri("/api/v1/experiments/power", UriKind.Relative), new PowerRequest("log-loss", 0.3, 0.02), ContractsJsonContext.Default.PowerRequest);

        Assert.Equal(HttpStatusCode.Forbidden, create.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, stop.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, promote.StatusCode);
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        using var admin = server.CreateClient();
        var audit = (await admin.GetFromJsonAsync("/api/v1/audit?limit=1000", ContractsJsonContext.Default.IReadOnlyListAuditEntry))!;
        Assert.Contains(audit, e => e.Actor == "vera-viewer" && e.Action == "POST /api/v1/experiments/ex-1/promote" && e.Status == 403);
        // A viewer may plan: the calculator answers, here that log-loss needs its standard deviation.
        Assert.Equal(HttpStatusCode.BadRequest, power.StatusCode);
        Assert.Equal(["standardDeviation"], (await DeploymentsApiTests.ReadProblemAsync(power)).Errors!.Keys);
    }

    private async Task PublishAsync(string name, string version)
    {
        var card = new ModelCard(
            name,
            version,
            ModelTasks.BinaryClassification,
            [new ModelInput("temperature", TensorElementTypes.Float32, [-1, 1], "temperature")],
            [new ModelOutput("PredictedLabel.output", TensorElementTypes.Bool, [-1, 1], PredictionFields.Label)],
            new Dictionary<string, double>(),
            new ModelLineage("run-1", name, "sha256:" + new string('d', 64), 100, "fasttree", new Dictionary<string, string>(), "test"),
            [new FeatureBaseline("temperature", 20, 2, 10, 30)],
            DateTimeOffset.UtcNow);
        await server.Services.GetRequiredService<ModelRegistry>().PublishAsync(
            new TrainedModel(card, [1, 2, .. System.Text.Encoding.UTF8.GetBytes(name + version)], null), CancellationToken.None);
    }

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
