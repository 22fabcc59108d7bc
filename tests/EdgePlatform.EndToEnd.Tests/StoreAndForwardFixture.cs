using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using EdgePlatform.Cli;
using EdgePlatform.Cli.Processes;
using EdgePlatform.Contracts;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// A control plane with its embedded broker and one agent, as real processes, that tests stop,
/// kill and restart. The server keeps fixed ports across restarts so the agent finds it again;
/// the agent drains its spool slowly (one report per batch, two batches a second) so a test can
/// catch it mid-drain. No model is deployed: every event is received and dead-lettered, which
/// the agent counts like any other event, so counts are exact without training a model.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes fixtures through IAsyncLifetime.DisposeAsync.")]
public sealed class StoreAndForwardFixture : IAsyncLifetime
{
    public const string Device = "e2e-spool";

    private readonly ProcessGroup _processes = new();
    private readonly int _httpPort = FreePort();
    private readonly int _mqttPort = FreePort();
    private int _serverStarts;
    private int _agentStarts;
    private string _enrollmentKeyFile = string.Empty;

    public string Root { get; } = Directory.CreateTempSubdirectory("edgeplatform-e2e-spool-").FullName;

    public string ServerDirectory => Path.Combine(Root, "server");

    public string AgentDirectory => Path.Combine(Root, Device);

    public ApiClient Api { get; private set; } = null!;

    public string AdminToken { get; private set; } = string.Empty;

    public HostProcess Server { get; private set; } = null!;

    public HostProcess Agent { get; private set; } = null!;

    public LocalBus Bus { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await StartServerAsync();
        await StartAgentAsync();
        await Wait.UntilAsync(
            async () => (await Api.GetDeviceAsync(Device, default)).Status == DeviceStatuses.Online,
            "the device online");
    }

    public async Task StartServerAsync()
    {
        var adminTokenFile = Path.Combine(Root, "admin.token");
        var endpointsFile = Path.Combine(ServerDirectory, ServerEndpoints.FileName);
        if (File.Exists(endpointsFile))
        {
            // A stopped server leaves its announcement behind; wait for the new one.
            File.Delete(endpointsFile);
        }

        Server = _processes.Start(
            $"server-{++_serverStarts}",
            HostProcess.ServerAssembly,
            [
                $"--Server:DataDirectory={ServerDirectory}", $"--Server:HttpPort={_httpPort}", $"--Server:MqttPort={_mqttPort}",
                "--Enrollment:TelemetryIntervalSeconds=1", $"--Server:InitialAdminTokenFile={adminTokenFile}",
            ],
            Path.Combine(Root, $"server-{_serverStarts}.log"));
        var endpoints = await Wait.ForFileAsync(endpointsFile, Server, b => JsonSerializer.Deserialize(b, ContractsJsonContext.Default.ServerEndpoints));
        _enrollmentKeyFile = endpoints.EnrollmentKeyFile;
        if (Api is null)
        {
            await Wait.UntilAsync(() => Task.FromResult(File.Exists(adminTokenFile)), "the initial admin token");
            AdminToken = (await File.ReadAllTextAsync(adminTokenFile)).Trim();
            Api = new ApiClient(new Uri(endpoints.HttpUrl), AdminToken);
        }
    }

    public async Task StartAgentAsync()
    {
        var announcement = Path.Combine(AgentDirectory, AgentEndpoints.FileName);
        if (File.Exists(announcement))
        {
            File.Delete(announcement);
        }

        Agent = _processes.Start(
            $"agent-{++_agentStarts}",
            HostProcess.AgentAssembly,
            [
                $"--Agent:DataDirectory={AgentDirectory}", $"--Agent:DeviceId={Device}", $"--Agent:ControlPlaneUrl=http://127.0.0.1:{_httpPort}",
                $"--Agent:EnrollmentKeyFile={_enrollmentKeyFile}", "--LocalBroker:Port=0",
                "--Telemetry:IntervalSeconds=1", "--Telemetry:MaxBatchReports=1", "--Telemetry:DrainBatchesPerSecond=2", "--Telemetry:RetrySeconds=1",
            ],
            Path.Combine(Root, $"agent-{_agentStarts}.log"));
        var endpoints = await Wait.ForFileAsync(announcement, Agent, b => JsonSerializer.Deserialize(b, ContractsJsonContext.Default.AgentEndpoints));
        if (Bus is not null)
        {
            await Bus.DisposeAsync();
        }

        Bus = await LocalBus.ConnectAsync(Device, endpoints.LocalBrokerPort);
    }

    /// <summary>Publishes events on the device's local bus and waits until the agent has handled each one.</summary>
    public async Task ScoreAsync(int count)
    {
        for (var i = 0; i < count; i++)
        {
            await Bus.PublishExpectingDeadLetterAsync("""{"id":"e2e","temperature_c":1}"""u8.ToArray());
        }
    }

    public async Task<DeviceTelemetrySummary?> SummaryAsync() =>
        (await Api.GetTelemetryAsync(Device, default)).SingleOrDefault();

    public async Task DisposeAsync()
    {
        if (Bus is not null)
        {
            await Bus.DisposeAsync();
        }

        Api?.Dispose();
        await _processes.DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A log still being flushed keeps the folder; it is under the system temp directory.
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
