using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Host.Access;
using EdgePlatform.ControlPlane.Host.Apis;
using EdgePlatform.ControlPlane.Host.Artifacts;
using EdgePlatform.ControlPlane.Host.Datasets;
using EdgePlatform.ControlPlane.Host.Broker;
using EdgePlatform.ControlPlane.Host.Containers;
using EdgePlatform.ControlPlane.Host.Registry;
using EdgePlatform.ControlPlane.Host.Trust;
using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;

namespace EdgePlatform.ControlPlane.Host.Hosting;

public static partial class ControlPlaneHostExtensions
{
    /// <summary>Data directory, ports, JSON contracts, problem details: what every part of the server relies on.</summary>
    public static ServerBootstrap AddControlPlaneDefaults(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(ServerOptions.Section).Get<ServerOptions>() ?? new ServerOptions();
        var bootstrap = ServerBootstrap.Prepare(options);
        var derived = bootstrap.DerivedConfiguration().ToDictionary();
        if (builder.Configuration.GetSection(BrokerOptions.Section).Get<BrokerOptions>() is { IsExternal: true } broker)
        {
            // Devices are sent to the external broker.
            derived[$"{EnrollmentOptions.Section}:{nameof(EnrollmentOptions.MqttHost)}"] = broker.Host;
            derived[$"{EnrollmentOptions.Section}:{nameof(EnrollmentOptions.MqttPort)}"] = broker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        // Derived values fill gaps only: an operator's Enrollment:RegistryUrl (an external registry) wins.
        builder.Configuration.AddInMemoryCollection(
            derived.Where(setting => string.IsNullOrEmpty(builder.Configuration[setting.Key])));
        builder.WebHost.UseUrls(bootstrap.HttpUrl);
        if (bootstrap.ApiCertificate is { } certificate)
        {
            builder.WebHost.UseKestrelHttpsConfiguration();
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureHttpsDefaults(https =>
            {
                https.ServerCertificate = certificate;
                https.ServerCertificateChain = bootstrap.ApiCertificateChain;
            }));
        }

        builder.Services.AddSingleton(bootstrap);
        builder.Services.AddSingleton(bootstrap.DeviceCa);
        builder.Services.AddSingleton(bootstrap.TokenSigner);
        builder.Services.AddOptions<ServerOptions>().BindConfiguration(ServerOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.Configure<JsonOptions>(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, ContractsJsonContext.Default));
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<ApiExceptionHandler>();
        builder.AddRequestLimits();
        builder.Services.AddHostedService<EndpointsFileWriter>();
        return bootstrap;
    }

    /// <summary>
    /// The store adapters, one per port, over the database <c>Store</c> names: SQLite in the data
    /// directory by default, or a PostgreSQL database that replicas share.
    /// </summary>
    public static WebApplicationBuilder AddStore(this WebApplicationBuilder builder, ServerBootstrap bootstrap)
    {
        builder.Services.AddOptions<StoreOptions>().BindConfiguration(StoreOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        var options = builder.Configuration.GetSection(StoreOptions.Section).Get<StoreOptions>() ?? new StoreOptions();
        var stores = Stores.Open(options.OpenDatabase(bootstrap.DataDirectory));
        builder.Services.AddSingleton(stores);
        builder.Services.AddSingleton(stores.Database);
        builder.Services.AddSingleton(stores.Access);
        builder.Services.AddSingleton(stores.EnrollmentGroups);
        builder.Services.AddSingleton(stores.Devices);
        builder.Services.AddSingleton(stores.Models);
        builder.Services.AddSingleton(stores.Deployments);
        builder.Services.AddSingleton(stores.Telemetry);
        builder.Services.AddSingleton<EdgePlatform.ControlPlane.Telemetry.ILatencyHistograms, EdgePlatform.ControlPlane.Host.Telemetry.LatencyHistograms.Reader>();
        builder.Services.AddSingleton(stores.Training);
        builder.Services.AddSingleton(stores.Datasets);
        builder.Services.AddSingleton(stores.Rollouts);
        builder.Services.AddSingleton(stores.Experiments);
        builder.Services.AddSingleton(stores.Sweeps);
        builder.Services.AddSingleton(stores.RegistryManifests);
        builder.Services.AddSingleton(stores.Leases);
        builder.Services.AddSingleton(stores.TrustMetadata);
        return builder;
    }

    /// <summary>Dataset versions: uploads, sources, cleansing, connections (settings in <c>Datasets</c>), and training on a version.</summary>
    public static WebApplicationBuilder AddDatasets(this WebApplicationBuilder builder, ServerBootstrap bootstrap)
    {
        var directory = Path.Combine(bootstrap.DataDirectory, "datasets");
        builder.Services.AddOptions<DatasetOptions>().BindConfiguration(DatasetOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(sp => new DatasetUploads(Path.Combine(directory, "uploads"), sp.GetRequiredService<IOptions<DatasetOptions>>()));
        builder.Services.AddSingleton(new ConnectionSecrets(Path.Combine(bootstrap.KeyDirectory, ServerBootstrap.ConnectionKeyFileName), bootstrap.CreatesKeys));
        builder.Services.AddSingleton(new DatasetStaging(Path.Combine(directory, "staging")));
        builder.Services.AddSingleton<DatasetSources>();
        builder.Services.AddSingleton<DatasetCatalog>();
        builder.Services.AddSingleton<IDatasetResolver>(sp => sp.GetRequiredService<DatasetCatalog>());
        return builder;
    }

    /// <summary>
    /// The artifact store <c>Artifacts</c> names (the data directory by default, or an Azure Blob
    /// Storage container that replicas share), the embedded registry over it, and the TUF
    /// metadata that signs what it serves.
    /// </summary>
    public static WebApplicationBuilder AddArtifacts(this WebApplicationBuilder builder, ServerBootstrap bootstrap)
    {
        builder.Services.AddOptions<ArtifactOptions>().BindConfiguration(ArtifactOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<IArtifactStore>(sp => sp.GetRequiredService<IOptions<ArtifactOptions>>().Value switch
        {
            { Provider: ArtifactOptions.Azure } azure => new AzureBlobArtifactStore(azure.OpenContainer()),
            _ => new FileSystemArtifactStore(Path.Combine(bootstrap.DataDirectory, "blobs")),
        });
        builder.Services.AddEmbeddedRegistry();
        builder.Services.AddOptions<TrustOptions>().BindConfiguration(TrustOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<TufTrustPublisher>();
        builder.Services.AddSingleton<ITrustPublisher>(sp => sp.GetRequiredService<TufTrustPublisher>());
        builder.Services.AddHostedService<TrustRefresher>();
        builder.Services.AddContainerize();
        return builder;
    }

    /// <summary>
    /// The broker (embedded, or an external one such as mosquitto), then the control plane's
    /// privileged link to it (hosted services start in order).
    /// </summary>
    public static WebApplicationBuilder AddBroker(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<BrokerOptions>().BindConfiguration(BrokerOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<BrokerCredentials>();
        builder.Services.TryAddSingleton<LimitMetrics>();
        var external = builder.Configuration.GetSection(BrokerOptions.Section).Get<BrokerOptions>()?.IsExternal == true;
        if (external)
        {
            builder.Services.AddSingleton<IDeviceSessions, ExternalBrokerSessions>();
        }
        else
        {
            builder.Services.AddSingleton<EmbeddedMqttBroker>();
            builder.Services.AddSingleton<IDeviceSessions>(sp => sp.GetRequiredService<EmbeddedMqttBroker>());
            builder.Services.AddHostedService(sp => sp.GetRequiredService<EmbeddedMqttBroker>());
        }

        builder.Services.AddSingleton<MosquittoConfigWriter>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<MosquittoConfigWriter>());
        builder.Services.AddSingleton<MqttDeviceLink>();
        builder.Services.AddSingleton<IDeviceLink>(sp => sp.GetRequiredService<MqttDeviceLink>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<MqttDeviceLink>());
        return builder;
    }

    /// <summary>
    /// Fleet aggregates through OpenTelemetry, served in Prometheus text format at <c>/metrics</c>
    /// on the API host itself, behind the same bearer tokens (read role) as <c>/api/v1</c>; with
    /// them, the bytes the registry serves.
    /// </summary>
    public static WebApplicationBuilder AddFleetMetrics(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<RegistryMetrics>();
        builder.Services.TryAddSingleton<LimitMetrics>();
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(EdgePlatform.ControlPlane.Telemetry.TelemetryMetrics.MeterName)
            .AddMeter(RegistryMetrics.MeterName)
            .AddMeter(LimitMetrics.MeterName)
            .AddMeter(EdgePlatform.ControlPlane.Training.SweepQueueMetrics.MeterName)
            .AddPrometheusExporter());
        return builder;
    }

    public static WebApplication MapControlPlaneApis(this WebApplication app)
    {
        app.UseExceptionHandler();

        // Before the audit log: a burst refused by address is counted, not written row by row.
        app.UseRequestLimits();
        // The audit log wraps authentication so that refused calls are written too.
        app.UseAuditLog();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGet("/healthz", () => TypedResults.Ok("ok"));
        app.MapDevicesApi();
        app.MapModelsApi();
        app.MapDatasetsApi();
        app.MapSweepsApi();
        app.MapTelemetryApi();
        app.MapPrometheusScrapingEndpoint("/metrics").RequireAuthorization(EdgePlatform.ControlPlane.Access.Permissions.Read);
        app.MapRolloutsApi();
        app.MapExperimentsApi();
        app.MapRegistryApi();
        app.MapTrustApi();
        app.MapAttestationApi();
        app.MapAccessApi();
        return app;
    }

    /// <summary>Announces the server in its data directory once it accepts connections.</summary>
    private sealed partial class EndpointsFileWriter(
        ServerBootstrap bootstrap,
        IHostApplicationLifetime lifetime,
        ILogger<EndpointsFileWriter> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            lifetime.ApplicationStarted.Register(() =>
            {
                bootstrap.WriteEndpointsFile();
                LogReady(bootstrap.HttpUrl, bootstrap.Options.BindAddress, bootstrap.MqttPort, bootstrap.DataDirectory, bootstrap.EnrollmentKeyFile);
                if (bootstrap.ApiPinFingerprint is { } fingerprint)
                {
                    LogPin(fingerprint);
                }
                else if (!System.Net.IPAddress.IsLoopback(System.Net.IPAddress.Parse(bootstrap.Options.BindAddress)))
                {
                    LogPlainHttpBeyondLoopback(bootstrap.HttpUrl);
                }
            });
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Control plane ready: API {HttpUrl}, MQTT {MqttHost}:{MqttPort}, data directory {DataDirectory}, enrollment key in {EnrollmentKeyFile}")]
        private partial void LogReady(string httpUrl, string mqttHost, int mqttPort, string dataDirectory, string enrollmentKeyFile);

        [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "API served over HTTPS; give clients its pin out of band: Agent:ControlPlaneFingerprint={Fingerprint} (edgectl --ca-fingerprint)")]
        private partial void LogPin(string fingerprint);

        [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "API served over plain HTTP at {HttpUrl} beyond loopback (Server:Tls=off): put a TLS-terminating proxy in front, or enrollment keys and tokens cross the network in clear")]
        private partial void LogPlainHttpBeyondLoopback(string httpUrl);
    }
}
