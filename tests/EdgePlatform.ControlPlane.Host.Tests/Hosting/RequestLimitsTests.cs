using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using EdgePlatform.ControlPlane.Host.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace EdgePlatform.ControlPlane.Host.Tests.Hosting;

/// <summary>
/// Request body limits (<c>Server:MaxRequestBodyBytes</c>, <c>Server:MaxDatasetUploadBytes</c>)
/// as Kestrel enforces them, so over a real socket: the in-memory test server has no body limit.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes the test class through IAsyncLifetime.DisposeAsync.")]
public sealed class RequestLimitsTests : IAsyncLifetime
{
    private readonly ControlPlaneFactory _server = ControlPlaneFactory.With(new Dictionary<string, string>
    {
        ["Server:MaxRequestBodyBytes"] = "65536",
        ["Server:MaxDatasetUploadBytes"] = "1048576",
    });

    private HttpClient _client = null!;

    public Task InitializeAsync()
    {
        _server.UseKestrel(0);
        _server.StartServer();
        var address = _server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _client = new HttpClient { BaseAddress = new Uri(address) };
        _client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", File.ReadAllText(_server.AdminTokenFile).Trim());
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Post_JsonBodyOverMaxRequestBodyBytes_Returns413ProblemCountedAndTheApiServesOn()
    {
        using var refusals = new LimitRefusals(_server.Services);
        var padding = new string('x', 200_000);
        using var body = new StringContent($$"""{"dataset": "d", "label": "l", "notes": "{{padding}}"}""", Encoding.UTF8, "application/json");

        using var response = await _client.PostAsync(new Uri("/api/v1/training-runs", UriKind.Relative), body);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains("MaxRequestBodyBytes", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, refusals[LimitMetrics.RequestBodySize]);
        using var devices = await _client.GetAsync(new Uri("/api/v1/devices", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, devices.StatusCode);
    }

    [Fact]
    public async Task PutDataset_OverTheApiLimitWithinMaxDatasetUploadBytes_IsNotRefusedForItsSize()
    {
        var csv = new StringBuilder("x,label\n");
        while (csv.Length < 200_000)
        {
            csv.Append("1.5,0\n2.5,1\n");
        }

        using var body = new StringContent(csv.ToString(), Encoding.UTF8, "text/csv");

        using var response = await _client.PutAsync(new Uri("/api/v1/datasets/limits?label=label", UriKind.Relative), body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
