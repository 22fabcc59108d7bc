using EdgePlatform.ControlPlane.Deployments;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Models;
using EdgePlatform.ControlPlane.Telemetry;
using EdgePlatform.ControlPlane.Training;
using Microsoft.Extensions.DependencyInjection;

namespace EdgePlatform.ControlPlane;

public static class ServiceCollectionExtensions
{
    /// <summary>Registers the control-plane services; the host adds the port adapters.</summary>
    public static IServiceCollection AddControlPlaneCore(this IServiceCollection services)
    {
        services.AddOptions<EnrollmentOptions>()
            .BindConfiguration(EnrollmentOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddOptions<AttestationOptions>()
            .BindConfiguration(AttestationOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<AttestationOptions>, AllowedAgentBuildsValidation>();
        services.AddOptions<Access.RegistryAuthOptions>()
            .BindConfiguration(Access.RegistryAuthOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddOptions<Rollouts.RolloutOptions>()
            .BindConfiguration(Rollouts.RolloutOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddOptions<Experiments.ExperimentOptions>()
            .BindConfiguration(Experiments.ExperimentOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton(TimeProvider.System);

        // Before the workers, so it stops after them and releases their leases last.
        services.AddOptions<Leases.ReplicaOptions>()
            .BindConfiguration(Leases.ReplicaOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<Leases.ReplicaLeases>();
        services.AddHostedService(sp => sp.GetRequiredService<Leases.ReplicaLeases>());
        services.AddSingleton<Security.Attestation.IEvidenceVerifier, Security.Attestation.SoftwareEvidenceVerifier>();
        services.AddSingleton<AttestationService>();
        services.AddSingleton<Access.RegistryTokenService>();
        services.AddSingleton<EnrollmentService>();
        services.AddSingleton<FleetService>();
        services.AddSingleton<ModelRegistry>();
        services.AddSingleton<ModelImporter>();
        services.AddSingleton<DesiredStateWriter>();
        services.AddSingleton<DeploymentService>();
        services.AddOptions<TelemetryStoreOptions>()
            .BindConfiguration(TelemetryStoreOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<TelemetryMetrics>();
        services.AddSingleton<TelemetryIngestService>();
        services.AddSingleton<TelemetryQueryService>();
        services.AddHostedService<TelemetryRetentionWorker>();
        services.AddSingleton<DeviceMessageRouter>();

        // Registered before the broker, so it stops after it: an embedded broker hands over what
        // it still holds for the control plane on stopping, and the router stores that before it ends.
        services.AddHostedService(sp => sp.GetRequiredService<DeviceMessageRouter>());
        services.AddSingleton<TrainingService>();
        services.AddSingleton<Access.AccessService>();
        services.AddSingleton<Rollouts.RolloutService>();
        services.AddSingleton<Experiments.IExperimentAnalyzer>(sp => new Experiments.ExperimentAnalyzer(
            sp.GetRequiredService<Ports.ITelemetryStore>(), sp.GetService<ILatencyHistograms>()));
        services.AddHostedService<TrainingWorker>();
        services.AddHostedService<Rollouts.RolloutWorker>();

        // Experiments and rollouts share devices: each reads the other's claims to decide who owns one.
        services.AddSingleton<Experiments.ExperimentClaims>();
        services.AddSingleton<IDeviceClaimSource>(sp => sp.GetRequiredService<Experiments.ExperimentClaims>());
        services.AddSingleton<Experiments.ExperimentService>();
        services.AddHostedService<Experiments.ExperimentWorker>();
        return services;
    }
}
