using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Http;

public static class InferenceHttpExtensions
{
    /// <summary>Kestrel listens only where <see cref="InferenceHttpOptions"/> says: loopback unless configured otherwise.</summary>
    public static IServiceCollection AddLocalInferenceEndpoint(this IServiceCollection services)
    {
        services.AddOptions<InferenceHttpOptions>().BindConfiguration(InferenceHttpOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<InferenceBearerToken>();
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<InferenceHttpOptions>>((kestrel, http) =>
            kestrel.Listen(IPAddress.Parse(http.Value.BindAddress), http.Value.Port));
        return services;
    }
}
