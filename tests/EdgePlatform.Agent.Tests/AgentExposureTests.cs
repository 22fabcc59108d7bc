using System.Net;
using System.Net.Http.Headers;
using EdgePlatform.Agent.Core;
using EdgePlatform.Agent.Http;
using EdgePlatform.Agent.Links;
using EdgePlatform.Tests.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Tests;

/// <summary>
/// What the agent exposes to the network: nothing beyond loopback by default, nothing beyond it
/// without credentials, and the inference endpoint only to callers with its token once one is set.
/// </summary>
public sealed class AgentExposureTests
{
    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("::")]
    public async Task StartAsync_LocalBrokerBeyondLoopbackWithoutUsers_RefusesNamingTheSetting(string host)
    {
        var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => StartDaemonAsync(new() { ["LocalBroker:Host"] = host }));

        Assert.Contains($"LocalBroker:Host '{host}' is beyond loopback", refused.Message, StringComparison.Ordinal);
        Assert.Contains("LocalBroker:PasswordFile or LocalBroker:Users", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_InferenceEndpointBeyondLoopbackWithoutToken_RefusesNamingTheSetting()
    {
        var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => StartDaemonAsync(new() { ["InferenceHttp:BindAddress"] = "0.0.0.0" }));

        Assert.Contains("InferenceHttp:BindAddress '0.0.0.0' is beyond loopback", refused.Message, StringComparison.Ordinal);
        Assert.Contains("InferenceHttp:BearerTokenFile", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_Defaults_EverySocketTheAgentListensOnIsLoopback()
    {
        var before = ListeningSockets.OfThisProcess().ToHashSet();
        await using var app = Scoring(new());
        await app.StartAsync();
        try
        {
            var opened = ListeningSockets.OfThisProcess().Where(socket => !before.Contains(socket)).ToList();

            Assert.Contains(opened, socket => socket.Port == app.Services.GetRequiredService<LocalBroker>().Port);
            Assert.Contains(opened, socket => socket.Port == HttpPort(app));
            Assert.All(opened, socket => Assert.True(IPAddress.IsLoopback(socket.Address), $"the agent listens on {socket}"));
        }
        finally
        {
            await app.StopAsync();
        }
    }

    [Fact]
    public async Task Infer_BearerTokenFileSet_401WithoutTheToken200WithIt()
    {
        var tokenFile = Path.GetTempFileName();
        await File.WriteAllTextAsync(tokenFile, "local-apps-token-0123456789\n");
        await using var app = Scoring(new() { ["InferenceHttp:BearerTokenFile"] = tokenFile });
        await app.StartAsync();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{HttpPort(app)}") };

            using var anonymous = await client.GetAsync(new Uri("/v2/health/live", UriKind.Relative));
            using var wrong = await Get(client, "local-apps-token-012345678X");
            using var right = await Get(client, "local-apps-token-0123456789");

            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.Equal("Bearer", Assert.Single(anonymous.Headers.WwwAuthenticate).Scheme);
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
            Assert.Equal(HttpStatusCode.OK, right.StatusCode);
        }
        finally
        {
            await app.StopAsync();
            File.Delete(tokenFile);
        }
    }

    [Fact]
    public async Task StartAsync_LocalBrokerBeyondLoopbackWithUsers_Starts()
    {
        await using var app = Scoring(new()
        {
            ["LocalBroker:Host"] = "0.0.0.0",
            ["LocalBroker:Users:0:Name"] = "sensor-1",
            ["LocalBroker:Users:0:PasswordHash"] = BrokerPasswordHash.Create("pump-hall-sensor-1", iterations: 1000),
        });
        await app.StartAsync();
        try
        {
            Assert.Contains(IPAddress.Any, ListeningSockets.On(app.Services.GetRequiredService<LocalBroker>().Port));
        }
        finally
        {
            await app.StopAsync();
        }
    }

    [Fact]
    public async Task StartAsync_InferenceEndpointBeyondLoopbackWithToken_Starts()
    {
        var tokenFile = Path.GetTempFileName();
        await File.WriteAllTextAsync(tokenFile, "local-apps-token-0123456789");
        await using var app = Scoring(new() { ["InferenceHttp:BindAddress"] = "0.0.0.0", ["InferenceHttp:BearerTokenFile"] = tokenFile });
        try
        {
            await app.StartAsync();

            Assert.Contains(IPAddress.Any, ListeningSockets.On(HttpPort(app)));
            await app.StopAsync();
        }
        finally
        {
            File.Delete(tokenFile);
        }
    }

    private static Task<HttpResponseMessage> Get(HttpClient client, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/v2/health/live", UriKind.Relative));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client.SendAsync(request);
    }

    private static int HttpPort(WebApplication app) =>
        new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single()).Port;

    /// <summary>
    /// Builds and starts the daemon as Program.cs composes it, on free ports: options that fail
    /// validation throw from either step, as they stop the process.
    /// </summary>
    private static async Task StartDaemonAsync(Dictionary<string, string?> settings)
    {
        var builder = Builder(settings);
        builder.Services.AddAgentCore();
        builder.Services.AddAgentLinks();
        builder.Services.AddOnnxScoring();
        await using var app = Mapped(builder);
        await app.StartAsync();
        await app.StopAsync();
    }

    /// <summary>Every listener of the daemon (local broker and inference endpoint) without enrollment or the cloud link, which only dial out.</summary>
    private static WebApplication Scoring(Dictionary<string, string?> settings)
    {
        var builder = Builder(settings);
        builder.Services.AddScoringMetrics();
        builder.Services.AddLocalBroker();
        builder.Services.AddOnnxScoring();
        return Mapped(builder);
    }

    private static WebApplicationBuilder Builder(Dictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["LocalBroker:Port"] = "0", ["InferenceHttp:Port"] = "0" });
        builder.Configuration.AddInMemoryCollection(settings);
        return builder;
    }

    private static WebApplication Mapped(WebApplicationBuilder builder)
    {
        var app = builder.Build();
        app.MapInferenceProtocolApi();
        return app;
    }
}
