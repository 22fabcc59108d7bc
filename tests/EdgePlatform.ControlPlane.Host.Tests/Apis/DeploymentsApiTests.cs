using System.Net;
using System.Net.Http.Json;
using System.Text;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.DependencyInjection;

namespace EdgePlatform.ControlPlane.Host.Tests.Apis;

public sealed class DeploymentsApiTests(ControlPlaneFactory server) : IClassFixture<ControlPlaneFactory>
{
    private static readonly Uri Deployments = new("/api/v1/deployments", UriKind.Relative);

    [Fact]
    public async Task Post_MalformedJson_Returns400ProblemNamingTheJsonError()
    {
        using var client = server.CreateClient();

        using var response = await client.PostAsync(Deployments, Json("""{"model": "sensor", "devices": ["a",]"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await ReadProblemAsync(response);
        Assert.Equal(400, problem.Status);
        Assert.StartsWith("the body is not valid JSON for this request: ", problem.Detail, StringComparison.Ordinal);
        Assert.Contains("$.devices", problem.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_WrongJsonType_Returns400ProblemNamingTheField()
    {
        using var client = server.CreateClient();

        using var response = await client.PostAsync(Deployments, Json("""{"model": "sensor", "allDevices": "yes"}"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("$.allDevices", (await ReadProblemAsync(response)).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_EmptyObject_Returns400NamingModel()
    {
        using var client = server.CreateClient();

        using var response = await client.PostAsync(Deployments, Json("{}"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await ReadProblemAsync(response);
        Assert.Equal(["model"], problem.Errors!.Keys);
        Assert.StartsWith("model: ", problem.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_BothDevicesAndAllDevices_Returns400NamingDevices()
    {
        using var client = server.CreateClient();

        using var response = await client.PostAsync(Deployments, Json("""{"model": "sensor", "devices": ["a"], "allDevices": true}"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(["devices"], (await ReadProblemAsync(response)).Errors!.Keys);
    }

    [Fact]
    public async Task Post_UnknownModel_Returns404()
    {
        using var client = server.CreateClient();

        using var response = await client.PostAsync(Deployments, Json("""{"model": "no-such-model", "allDevices": true}"""));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("model 'no-such-model' has no published version", (await ReadProblemAsync(response)).Detail);
    }

    [Fact]
    public async Task Post_UnknownDevice_Returns404NamingTheDevice()
    {
        var models = server.Services.GetRequiredService<IModelStore>();
        await models.AddModelAsync(
            new ModelRecord("models/deploy-api", "deploy-api", "1", "sha256:" + new string('1', 64), 10, "sha256:" + new string('2', 64), 20, "c2ln", new Dictionary<string, double>(), DateTimeOffset.UtcNow),
            CancellationToken.None);
        using var client = server.CreateClient();

        using var response = await client.PostAsync(Deployments, Json("""{"model": "deploy-api", "devices": ["nope"]}"""));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var problem = await ReadProblemAsync(response);
        Assert.Equal(404, problem.Status);
        Assert.Equal("device 'nope' is not enrolled", problem.Detail);
    }

    internal static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    internal static async Task<ApiProblem> ReadProblemAsync(HttpResponseMessage response) =>
        await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.ApiProblem)
            ?? throw new InvalidOperationException("the response has no problem document");
}
