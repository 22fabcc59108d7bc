using System.Net;
using System.Text.Json;
using EdgePlatform.Cli;
using EdgePlatform.Cli.Processes;
using EdgePlatform.Contracts;
using EdgePlatform.Training.Datasets;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// The scale-out services with real processes: mosquitto as the device broker, configured from
/// the control plane's CA, and the CNCF distribution registry with <c>auth: token</c> whose token
/// service is the control plane. A fresh device enrolls, attests, receives a deployment over
/// mosquitto, pulls the model from the registry with a token bought by its attestation, and scores.
/// </summary>
[Trait("Category", "EndToEnd")]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes the test class through IAsyncLifetime.DisposeAsync.")]
public sealed class ExternalServicesTests : IAsyncLifetime
{
    private const string DeviceId = "e2e-external";
    private readonly ProcessGroup _processes = new();
    private readonly List<ServiceProcess> _services = [];
    private readonly string _root = Directory.CreateTempSubdirectory("edgeplatform-e2e-external-").FullName;
    private ApiClient _api = null!;
    private ServerEndpoints _endpoints = null!;
    private string _adminToken = string.Empty;
    private Uri _registry = null!;

    public async Task InitializeAsync()
    {
        var registryBinary = FindOnPath("docker-registry")
            ?? throw new InvalidOperationException("docker-registry is needed: run tests/run.sh, which installs it");

        var serverDirectory = Path.Combine(_root, "server");
        var brokerDirectory = Path.Combine(_root, "mosquitto");
        var brokerPort = ServiceProcess.FreePort();
        var registryPort = ServiceProcess.FreePort();
        _registry = new Uri($"http://127.0.0.1:{registryPort}/");
        var adminTokenFile = Path.Combine(_root, "admin.token");
        var server = _processes.Start(
            "server",
            HostProcess.ServerAssembly,
            [
                $"--Server:DataDirectory={serverDirectory}", "--Server:HttpPort=0", "--Server:MqttPort=0", "--Enrollment:TelemetryIntervalSeconds=1",
                $"--Server:InitialAdminTokenFile={adminTokenFile}",
                $"--Attestation:TrustedAgentDirectory={Path.GetDirectoryName(HostProcess.AgentAssembly)}",
                "--Broker:Mode=external", "--Broker:Host=127.0.0.1", $"--Broker:Port={brokerPort}", $"--Broker:MosquittoConfigDirectory={brokerDirectory}",
                $"--Enrollment:RegistryUrl={_registry}",
            ],
            Path.Combine(_root, "server.log"));
        _endpoints = await Wait.ForFileAsync(Path.Combine(serverDirectory, ServerEndpoints.FileName), server, b => JsonSerializer.Deserialize(b, ContractsJsonContext.Default.ServerEndpoints));
        _adminToken = (await File.ReadAllTextAsync(adminTokenFile)).Trim();
        _api = new ApiClient(new Uri(_endpoints.HttpUrl), _adminToken);

        _services.Add(await ServiceProcess.StartMosquittoAsync(brokerDirectory, Path.Combine(_root, "mosquitto.log")));

        // The distribution registry trusting the control plane's token signing certificate.
        var registryConfig = Path.Combine(_root, "registry.yml");
        await File.WriteAllTextAsync(registryConfig, $"""
            version: 0.1
            log:
              level: warn
            storage:
              filesystem:
                rootdirectory: {Path.Combine(_root, "registry-data")}
            http:
              addr: 127.0.0.1:{registryPort}
            auth:
              token:
                realm: {_endpoints.HttpUrl}/api/v1/registry/token
                service: edgeplatform-registry
                issuer: edgeplatform
                rootcertbundle: {Path.Combine(serverDirectory, "token-signing.crt")}
            """);
        _services.Add(ServiceProcess.Start(registryBinary, ["serve", registryConfig], Path.Combine(_root, "registry.log")));
        using var probe = new HttpClient();
        await Wait.UntilAsync(
            async () =>
            {
                try
                {
                    using var response = await probe.GetAsync(new Uri(_registry, "v2/"));
                    return response.StatusCode == HttpStatusCode.Unauthorized;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            },
            "the distribution registry to answer");
    }

    public async Task DisposeAsync()
    {
        _api?.Dispose();
        await _processes.DisposeAsync();
        foreach (var service in _services)
        {
            await service.DisposeAsync();
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A log still being flushed keeps the folder; it is under the system temp directory.
        }
    }

    [Fact]
    public async Task FreshDevice_OnMosquittoAndATokenAuthRegistry_EnrollsAttestsPullsAndScores()
    {
        var run = await EdgePlatform.Cli.Commands.FleetCommands.TrainAndWaitAsync(_api, new TrainingRequest(null, null, null, 11), null, default);
        await RunEdgectlAsync("model", "push", $"{run.ModelName}:{run.ModelVersion}", "--registry", _registry.ToString());
        using (var anonymous = new HttpClient())
        {
            using var refused = await anonymous.GetAsync(new Uri(_registry, $"v2/models/{run.ModelName}/manifests/{run.ManifestDigest}"));
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        var agent = _processes.Start(
            DeviceId,
            HostProcess.AgentAssembly,
            [
                $"--Agent:DataDirectory={Path.Combine(_root, DeviceId)}", $"--Agent:DeviceId={DeviceId}", $"--Agent:ControlPlaneUrl={_endpoints.HttpUrl}",
                $"--Agent:EnrollmentKey={PlatformFixture.DeviceKey(_endpoints, DeviceId)}", "--LocalBroker:Port=0", "--InferenceHttp:Port=0",
            ],
            Path.Combine(_root, "agent.log"));
        await Wait.UntilAsync(async () => (await DeviceAsync())?.Status == DeviceStatuses.Online, "the device enrolled and online through mosquitto");
        await Wait.UntilAsync(async () => (await DeviceAsync())?.Attestation?.State == AttestationStates.Verified, "the device attested");

        await _api.DeployAsync(new CreateDeploymentRequest($"{run.ModelName}:{run.ModelVersion}", [DeviceId], null), default);
        await Wait.UntilAsync(async () => PlatformFixture.IsActive(await _api.GetDeviceAsync(DeviceId, default), run.ManifestDigest!), "the model active on the device");

        var announcement = await Wait.ForFileAsync(Path.Combine(_root, DeviceId, AgentEndpoints.FileName), agent, b => JsonSerializer.Deserialize(b, ContractsJsonContext.Default.AgentEndpoints));
        await using var bus = await LocalBus.ConnectAsync(DeviceId, announcement.LocalBrokerPort);
        var dataset = BuiltInDatasets.SensorAnomaly.Load();
        var prediction = await bus.ScoreAsync("external-1", WalkingSkeletonTests.EventJson("external-1", dataset.GetFeatures(0)));
        Assert.Equal(run.ModelVersion, prediction.ModelVersion);
    }

    /// <summary>The device, or null while it has not enrolled yet.</summary>
    private async Task<DeviceInfo?> DeviceAsync()
    {
        try
        {
            return await _api.GetDeviceAsync(DeviceId, default);
        }
        catch (CliException ex) when (ex.Message.Contains("not enrolled", StringComparison.Ordinal))
        {
            return null;
        }
    }

    private async Task RunEdgectlAsync(params string[] arguments)
    {
        var (exitCode, output) = await Edgectl.RunAsync([.. arguments, "--server", _endpoints.HttpUrl, "--token", _adminToken]);
        Assert.True(exitCode == 0, $"edgectl {string.Join(' ', arguments)} exited {exitCode}:\n{output}");
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':')
            .Select(d => Path.Combine(d, name))
            .FirstOrDefault(File.Exists);
}
