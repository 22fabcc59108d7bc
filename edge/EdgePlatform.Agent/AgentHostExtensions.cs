using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Http;
using EdgePlatform.Agent.Inference;
using EdgePlatform.Agent.Inference.Engine;
using EdgePlatform.Agent.Links;
using EdgePlatform.Agent.Runtime;
using EdgePlatform.Agent.Scorer;
using EdgePlatform.Agent.Scoring;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent;

public static class AgentHostExtensions
{
    public const string InferenceSection = "Inference";

    /// <summary>
    /// The engine's model runtime (ONNX Runtime in-process, or a model's container where
    /// <c>AddDockerModelContainers</c> is added too), the micro-batching engine with its arms (the desired
    /// state's experiment puts a candidate beside the control through the runtime), and the
    /// sources that feed it: the local broker and the local v2 HTTP endpoint.
    /// </summary>
    public static IServiceCollection AddOnnxScoring(this IServiceCollection services)
    {
        services.AddSingleton<ScoringTelemetry>();
        services.AddInferenceEngine(sp => sp.GetRequiredService<ScoringTelemetry>());
        services.AddSingleton<IModelRuntime, EngineModelRuntime>();
        services.AddHostedService<EventScoringService>();
        services.AddLocalInferenceEndpoint();
        return services;
    }

    /// <summary>
    /// The scorer mode: one model from <see cref="ScorerOptions.ModelDirectory"/>, loaded before the
    /// v2 endpoint serves it through the same engine; no broker, cloud link or telemetry.
    /// </summary>
    public static IServiceCollection AddScorer(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<ScorerOptions>().BindConfiguration(ScorerOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddInferenceEngine(_ => null);
        services.AddHostedService<ScorerModelLoader>();
        services.AddLocalInferenceEndpoint();
        return services;
    }

    private static void AddInferenceEngine(this IServiceCollection services, Func<IServiceProvider, IScoringObserver?> observer)
    {
        services.AddOptions<OnnxModelSettings>().BindConfiguration(InferenceSection).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<InferenceEngineOptions>().BindConfiguration(InferenceSection).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<ModelHost>();
        services.AddSingleton(sp => new InferenceEngine(
            sp.GetRequiredService<ModelHost>(),
            sp.GetRequiredService<IOptions<InferenceEngineOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>(),
            observer(sp)));
        services.AddHostedService<InferenceEngineService>();
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
