using EdgePlatform.Agent.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;

namespace EdgePlatform.Agent.Tests;

/// <summary>
/// The agent's registration methods compose into a container whose every service can be
/// constructed: a constructor that gains a dependency nobody registers fails here rather than
/// when the daemon, or the benchmark's scoring host that composes the scoring path alone, starts.
/// </summary>
public sealed class AgentHostExtensionsTests
{
    [Fact]
    public void Build_AsTheDaemonComposesIt_ConstructsEveryService()
    {
        var builder = Validating();
        builder.Services.AddAgentCore();
        builder.Services.AddAgentLinks();
        builder.Services.AddOnnxScoring();

        Assert.Null(Record.Exception(() => builder.Build()));
    }

    [Fact]
    public void Build_ScoringWithoutEnrollmentOrCloudLink_ConstructsEveryService()
    {
        var builder = Validating();
        builder.Services.AddScoringMetrics();
        builder.Services.AddLocalBroker();
        builder.Services.AddOnnxScoring();

        Assert.Null(Record.Exception(() => builder.Build()));
    }

    private static WebApplicationBuilder Validating()
    {
        var builder = WebApplication.CreateBuilder();
        builder.Host.UseDefaultServiceProvider(provider => provider.ValidateOnBuild = true);
        return builder;
    }
}
