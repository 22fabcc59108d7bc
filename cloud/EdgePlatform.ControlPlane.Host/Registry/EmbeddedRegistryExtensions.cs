using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EdgePlatform.ControlPlane.Host.Registry;

public static class EmbeddedRegistryExtensions
{
    /// <summary>
    /// The push side of the embedded OCI registry: upload sessions staged on local disk and committed to the
    /// artifact store, the manifest and tag index in the store, limits from the <c>Registry</c> section.
    /// Safe to call more than once.
    /// </summary>
    public static IServiceCollection AddEmbeddedRegistry(this IServiceCollection services)
    {
        if (services.Any(d => d.ServiceType == typeof(BlobUploads)))
        {
            return services;
        }

        services.AddOptions<RegistryOptions>().BindConfiguration(RegistryOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<EdgePlatform.ControlPlane.Host.Hosting.LimitMetrics>();
        services.TryAddSingleton<BlobUploads>();
        services.TryAddSingleton(sp => new RepositoryBlobs(
            sp.GetRequiredService<EdgePlatform.ControlPlane.Ports.IModelStore>(), sp.GetRequiredService<EdgePlatform.ControlPlane.Ports.IArtifactStore>(), sp.GetService<IRegistryManifestIndex>()));
        return services;
    }
}
