using Docker.DotNet;
using EdgePlatform.Agent.Core;
using EdgePlatform.Agent.Core.Identity;
using EdgePlatform.Agent.Core.Ports;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Docker;

public static class DockerServiceCollectionExtensions
{
    /// <summary>
    /// Model containers through the Docker Engine API at <see cref="DockerOptions.Endpoint"/>
    /// (<see cref="IModelContainers"/>), labelled with the enrolled device's id, and the sweep that
    /// removes strays at start and after each reconcile. Needs <see cref="ServiceCollectionExtensions.AddAgentCore"/>.
    /// </summary>
    public static IServiceCollection AddDockerModelContainers(this IServiceCollection services)
    {
        services.AddOptions<DockerOptions>().BindConfiguration(DockerOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(sp => new DockerClientConfiguration(new Uri(sp.GetRequiredService<IOptions<DockerOptions>>().Value.Endpoint)).CreateClient());
        services.AddSingleton<IModelContainers>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<DockerOptions>>();
            var identity = sp.GetRequiredService<DeviceIdentityProvider>();
            var tokens = options.Value.TokenDirectory
                ?? Path.Combine(sp.GetRequiredService<IOptions<AgentOptions>>().Value.DataDirectory, "containers");
            return new DockerModelContainers(
                sp.GetRequiredService<DockerClient>(),
                sp.GetRequiredService<IRegistryClient>(),
                options,
                async ct => (await identity.GetAsync(ct).ConfigureAwait(false)).DeviceId,
                tokens,
                sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILogger<DockerModelContainers>>());
        });
        services.AddHostedService<StrayContainerSweeper>();
        return services;
    }
}
