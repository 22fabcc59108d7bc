using EdgePlatform.ControlPlane.Host.Registry;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.Oci;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Host.Containers;

public static class ContainerizeExtensions
{
    /// <summary>Containerizing releases: the base image from <see cref="ContainerizeOptions"/>, pushed to the embedded registry or the external one it names.</summary>
    public static IServiceCollection AddContainerize(this IServiceCollection services)
    {
        services.AddOptions<ContainerizeOptions>().BindConfiguration(ContainerizeOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddHttpClient(nameof(DistributionImageTarget), client => client.Timeout = TimeSpan.FromMinutes(10));
        services.AddSingleton<IImageRegistryTarget>(sp => sp.GetRequiredService<IOptions<ContainerizeOptions>>().Value.RegistryUrl is { } external
            ? new DistributionImageTarget(new OciDistributionClient(sp.GetRequiredService<IHttpClientFactory>().CreateClient(nameof(DistributionImageTarget)), external), external)
            : new EmbeddedImageTarget(sp.GetRequiredService<IArtifactStore>(), sp.GetRequiredService<IRegistryManifestIndex>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<ModelContainerizer>();
        return services;
    }
}
