using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Http;
using EdgePlatform.Agent.Inference;
using EdgePlatform.Agent.Inference.Engine;
using EdgePlatform.Agent.Links;
using EdgePlatform.Agent.Runtime;
using EdgePlatform.Agent.Scoring;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent;

public static class AgentHostExtensions
{
    public const string InferenceSection = "Inference";

    /// <summary>
    /// ONNX Runtime as the model runtime, the micro-batching engine with its arms (the desired
    /// state's experiment puts a candidate beside the control through the runtime), and the
    /// sources that feed it: the local broker and the local v2 HTTP endpoint.
    /// </summary>
    public static IServiceCollection AddOnnxScoring(this IServiceCollection services)
    {
        services.AddOptions<OnnxModelSettings>().BindConfiguration(InferenceSection).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<InferenceEngineOptions>().BindConfiguration(InferenceSection).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<ModelHost>();
        services.AddSingleton<ScoringTelemetry>();
        services.AddSingleton(sp => new InferenceEngine(
            sp.GetRequiredService<ModelHost>(),
            sp.GetRequiredService<IOptions<InferenceEngineOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>(),
            sp.GetRequiredService<ScoringTelemetry>()));
        services.AddSingleton<IModelRuntime, EngineModelRuntime>();
        services.AddHostedService<InferenceEngineService>();
        services.AddHostedService<EventScoringService>();
        services.AddLocalInferenceEndpoint();
        return services;
    }

    /// <summary>The local broker (embedded unless configured external) and the cloud link.</summary>
    public static IServiceCollection AddAgentLinks(this IServiceCollection services)
    {
        services.AddLocalBroker();
        services.AddSingleton<MqttCloudLink>();
        services.AddSingleton<ICloudLink>(sp => sp.GetRequiredService<MqttCloudLink>());
        services.AddHostedService(sp => sp.GetRequiredService<MqttCloudLink>());
        services.AddHostedService<AgentEndpointsWriter>();
        return services;
    }

    /// <summary>
    /// The local broker alone, embedded unless configured external: where sensors publish events
    /// and read predictions. <see cref="AddAgentLinks"/> includes it.
    /// </summary>
    public static IServiceCollection AddLocalBroker(this IServiceCollection services)
    {
        services.AddOptions<LocalBrokerOptions>().BindConfiguration(LocalBrokerOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<LocalBroker>();
        services.AddHostedService(sp => sp.GetRequiredService<LocalBroker>());
        return services;
    }
}
