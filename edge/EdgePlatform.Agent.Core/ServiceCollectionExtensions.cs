using EdgePlatform.Agent.Core.Identity;
using EdgePlatform.Agent.Core.Packages;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Core.Reconciliation;
using EdgePlatform.Agent.Core.Telemetry;
using EdgePlatform.Agent.Core.Trust;
using EdgePlatform.Security.Tuf;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Core;

public static class ServiceCollectionExtensions
{
    /// <summary>
    /// Enrollment, package verification, the reconciler and telemetry. The host adds
    /// <see cref="IModelRuntime"/> and <see cref="ICloudLink"/>.
    /// </summary>
    public static IServiceCollection AddAgentCore(this IServiceCollection services)
    {
        services.AddOptions<AgentOptions>().BindConfiguration(AgentOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddScoringMetrics();
        services.AddSingleton<ControlPlaneTrust>();
        services.ConfigureHttpClientDefaults(client => client.ConfigurePrimaryHttpMessageHandler(
            sp => sp.GetRequiredService<ControlPlaneTrust>().CreateHandler()));
        services.AddHttpClient();
        services.AddSingleton<DeviceIdentityProvider>();
        services.AddSingleton<IModelStore>(sp => new LocalModelStore(sp.GetRequiredService<IOptions<AgentOptions>>().Value.DataDirectory));
        services.AddSingleton(sp => new AgentStateStore(sp.GetRequiredService<IOptions<AgentOptions>>().Value.DataDirectory));
        services.AddSingleton<ITrustStore>(sp =>
        {
            var identity = sp.GetRequiredService<DeviceIdentityProvider>();
            var remote = new HttpTufRemote(
                sp.GetRequiredService<IHttpClientFactory>().CreateClient(nameof(HttpTufRemote)),
                identity.GetMetadataUriAsync);
            var client = new TufClient(identity.TrustDirectory, remote, sp.GetRequiredService<TimeProvider>());
            return new DeviceTrust(client, async ct => await identity.GetAsync(ct).ConfigureAwait(false));
        });
        services.AddSingleton<IRegistryLocator>(sp => sp.GetRequiredService<DeviceIdentityProvider>());
        services.AddSingleton<AttestationClient>();
        services.AddHostedService(sp => sp.GetRequiredService<AttestationClient>());

        // Model pulls present the attestation token to the registry's token service.
        services.AddHttpClient<IRegistryClient, OciRegistryClient>()
            .AddHttpMessageHandler(sp =>
            {
                var attestation = sp.GetRequiredService<AttestationClient>();
                var controlPlane = sp.GetRequiredService<IOptions<AgentOptions>>().Value.ControlPlaneUrl;
                Uri[] trusted = Uri.TryCreate(controlPlane, UriKind.Absolute, out var uri) ? [uri] : [];
                return new Oci.RegistryTokenHandler(async ct =>
                {
                    try
                    {
                        return await attestation.GetTokenAsync(ct).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is AttestationRefusedException or HttpRequestException)
                    {
                        throw new Oci.OciRegistryException($"no attestation token to pull with: {ex.Message}", System.Net.HttpStatusCode.Unauthorized, []);
                    }
                },
                trusted);
            });
        services.AddSingleton<PackageInstaller>();
        services.AddOptions<ProbationOptions>().BindConfiguration(ProbationOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IModelHealth, ScoringMetricsHealth>();
        services.AddSingleton<DesiredStateInbox>();
        services.AddSingleton<Reconciler>();
        services.AddHostedService(sp =>
        {
            // A reconcile changes the installed models, which attestation measures: attest anew.
            var reconciler = sp.GetRequiredService<Reconciler>();
            var attestation = sp.GetRequiredService<AttestationClient>();
            reconciler.Reconciled += _ => attestation.RequestRenewal();
            return reconciler;
        });
        services.AddSingleton<TelemetryOutbox>();
        services.AddSingleton<IntervalReports>();
        services.AddSingleton<TelemetryReporter>();
        services.AddHostedService(sp => sp.GetRequiredService<TelemetryReporter>());
        return services;
    }

    /// <summary>
    /// What scoring records into: per-version metrics and the labelled-feedback matcher, with the
    /// clock they read. <see cref="AddAgentCore"/> includes it; a host that scores without
    /// enrolling (the inference benchmark's agent host) adds it alone.
    /// </summary>
    public static IServiceCollection AddScoringMetrics(this IServiceCollection services)
    {
        services.AddOptions<TelemetryOptions>().BindConfiguration(TelemetryOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<FeedbackOptions>().BindConfiguration(FeedbackOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new ScoringMetrics(sp.GetRequiredService<IOptions<TelemetryOptions>>().Value.FeatureSampleRate));
        services.AddSingleton<FeedbackRecorder>();
        return services;
    }
}
