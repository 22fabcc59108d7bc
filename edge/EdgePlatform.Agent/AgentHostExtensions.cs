using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Inference;
using EdgePlatform.Agent.Links;
using EdgePlatform.Agent.Runtime;
using EdgePlatform.Agent.Scoring;

namespace EdgePlatform.Agent;

public static class AgentHostExtensions
{
    public const string InferenceSection = "Inference";

    /// <summary>ONNX Runtime as the model runtime, and the local event scoring loop.</summary>
    public static IServiceCollection AddOnnxScoring(this IServiceCollection services)
    {
        services.AddOptions<OnnxModelSettings>().BindConfiguration(InferenceSection).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<ModelHost>();
        services.AddSingleton<IModelRuntime, OnnxModelRuntime>();
        services.AddHostedService<EventScoringService>();
        return services;
    }

    /// <summary>The local broker (embedded unless configured external) and the cloud link.</summary>
    public static IServiceCollection AddAgentLinks(this IServiceCollection services)
    {
        services.AddOptions<LocalBrokerOptions>().BindConfiguration(LocalBrokerOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<LocalBroker>();
        services.AddHostedService(sp => sp.GetRequiredService<LocalBroker>());
        services.AddSingleton<MqttCloudLink>();
        services.AddSingleton<ICloudLink>(sp => sp.GetRequiredService<MqttCloudLink>());
        services.AddHostedService(sp => sp.GetRequiredService<MqttCloudLink>());
        services.AddHostedService<AgentEndpointsWriter>();
        return services;
    }
}
