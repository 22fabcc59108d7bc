using System.Text.Json;
using EdgePlatform.Cli;
using EdgePlatform.Cli.Processes;
using EdgePlatform.Contracts;
using EdgePlatform.FleetSim;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// A control plane process for simulated fleets: rollouts tick every second, devices report every
/// five, and attestation allows exactly the build the simulator measures (its own binaries here).
/// Two versions of the demo model are trained and published once for all tests.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes fixtures through IAsyncLifetime.DisposeAsync.")]
public sealed class FleetServerFixture : IAsyncLifetime
{
    public const int TelemetryIntervalSeconds = 5;

    private readonly ProcessGroup _processes = new();
    private ServerProfile? _profile;

    public string Root { get; } = Directory.CreateTempSubdirectory("edgeplatform-fleet-").FullName;

    public ServerEndpoints Endpoints { get; private set; } = null!;

    public ApiClient Api { get; private set; } = null!;

    public HostProcess Server { get; private set; } = null!;

    public string EnrollmentKey { get; private set; } = string.Empty;

    public ModelInfo Version1 { get; private set; } = null!;

    public ModelInfo Version2 { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _profile = await ServerProfile.CreateAsync(Root);
        var data = Path.Combine(Root, "server");
        var tokenFile = Path.Combine(Root, "admin.token");
        Server = _processes.Start(
            "server",
            HostProcess.ServerAssembly,
            [
                .. _profile.Settings(),
                $"--Server:DataDirectory={data}", "--Server:HttpPort=0", "--Server:MqttPort=0", $"--Server:InitialAdminTokenFile={tokenFile}",
                $"--Enrollment:TelemetryIntervalSeconds={TelemetryIntervalSeconds}", "--Rollouts:TickSeconds=1", "--Experiments:LookSeconds=1", "--Logging:LogLevel:Default=Warning",
                $"--Attestation:AllowedAgentBuilds:*:0={FleetSimulator.MeasureBuild()}",
            ],
            Path.Combine(Root, "server.log"));
        Endpoints = await Wait.ForFileAsync(Path.Combine(data, ServerEndpoints.FileName), Server, b => JsonSerializer.Deserialize(b, ContractsJsonContext.Default.ServerEndpoints));
        await _profile.StartBrokerAsync();
        await Wait.UntilAsync(() => Task.FromResult(File.Exists(tokenFile)), "the initial admin token");
        Api = new ApiClient(new Uri(Endpoints.HttpUrl), (await File.ReadAllTextAsync(tokenFile)).Trim());
        EnrollmentKey = (await File.ReadAllTextAsync(Endpoints.EnrollmentKeyFile)).Trim();
        Version1 = await TrainAsync(42);
        Version2 = await TrainAsync(7);
    }

    /// <summary>A started fleet of <paramref name="devices"/> tagged <c>fleet=<paramref name="name"/></c>, ids <c>{name}-00001</c> and up.</summary>
    public async Task<FleetSimulator> StartFleetAsync(string name, int devices, Action<SimulatorOptions>? configure = null)
    {
        var options = new SimulatorOptions
        {
            ControlPlane = new Uri(Endpoints.HttpUrl),
            EnrollmentKey = EnrollmentKey,
            Devices = devices,
            IdPrefix = name,
            EventsPerSecond = 20,
            WarmUpSeconds = 0.1,
            LateAfterSeconds = null,
        };
        options.Tags["fleet"] = name;
        configure?.Invoke(options);
        var fleet = new FleetSimulator(options, TimeProvider.System, NullLogger.Instance);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await fleet.StartAsync(timeout.Token);
        return fleet;
    }

    /// <summary>How long a fleet of a thousand simulated devices may take to get somewhere.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    public async Task DisposeAsync()
    {
        Api?.Dispose();
        await _processes.DisposeAsync();
        if (_profile is not null)
        {
            await _profile.DisposeAsync();
        }

        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A log still being flushed keeps the folder; it is under the system temp directory.
        }
    }

    private async Task<ModelInfo> TrainAsync(int seed)
    {
        var run = await EdgePlatform.Cli.Commands.FleetCommands.TrainAndWaitAsync(Api, new TrainingRequest(null, null, null, seed), null, default);
        return await Api.GetModelAsync($"{run.ModelName}:{run.ModelVersion}", default);
    }
}
