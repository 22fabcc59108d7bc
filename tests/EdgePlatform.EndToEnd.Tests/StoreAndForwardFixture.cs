using System.Text.Json;
using EdgePlatform.Cli;
using EdgePlatform.Cli.Processes;
using EdgePlatform.Contracts;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// A control plane with its embedded broker (or, in <see cref="MosquittoStoreAndForwardFixture"/>,
/// with mosquitto) and one agent, as real processes, that tests stop, kill and restart. The server keeps fixed ports across restarts so the agent finds it again;
/// the agent drains its spool slowly (one report per batch, two batches a second) so a test can
/// catch it mid-drain. No model is deployed: every event is received and dead-lettered, which
/// the agent counts like any other event, so counts are exact without training a model.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes fixtures through IAsyncLifetime.DisposeAsync.")]
public class StoreAndForwardFixture : IAsyncLifetime
{
    public const string Device = "e2e-spool";

    private readonly ProcessGroup _processes = new();
    private readonly int _httpPort = ServiceProcess.FreePort();
    private readonly int _mqttPort = ServiceProcess.FreePort();
    private ServiceProcess? _mosquitto;
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

    /// <summary>True where mosquitto, configured by the control plane, is the device broker.</summary>
    protected virtual bool UsesMosquitto => false;

    private string MosquittoDirectory => Path.Combine(Root, "mosquitto");

    public async Task InitializeAsync()
    {
        await StartServerAsync();
        if (UsesMosquitto)
        {
            await StartBrokerAsync();
        }

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
                $"--Attestation:TrustedAgentDirectory={Path.GetDirectoryName(HostProcess.AgentAssembly)}",
                .. UsesMosquitto
                    ? (string[])["--Broker:Mode=external", "--Broker:Host=127.0.0.1", $"--Broker:Port={_mqttPort}", $"--Broker:MosquittoConfigDirectory={MosquittoDirectory}"]
                    : [],
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

    /// <summary>Stops the device broker: the embedded one by stopping the control plane, mosquitto by SIGTERM.</summary>
    public async Task StopBrokerAsync()
    {
        if (!UsesMosquitto)
        {
            await Server.StopAsync(TimeSpan.FromSeconds(20));
            return;
        }

        await _mosquitto!.DisposeAsync();
        _mosquitto = null;
    }

    public async Task StartBrokerAsync()
    {
        if (!UsesMosquitto)
        {
            await StartServerAsync();
            return;
        }

        _mosquitto = await ServiceProcess.StartMosquittoAsync(MosquittoDirectory, Path.Combine(Root, "mosquitto.log"));
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
                $"--Agent:EnrollmentKey={EdgePlatform.Security.EnrollmentKeys.Derive(File.ReadAllText(_enrollmentKeyFile).Trim(), Device)}", "--LocalBroker:Port=0", "--InferenceHttp:Port=0",
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

    /// <summary>The last warnings and errors the processes logged, each with the log it is from.</summary>
    public string Warnings() => string.Join(
        '\n',
        Directory.GetFiles(Root, "*.log")
            .Order(StringComparer.Ordinal)
            .SelectMany(log => File.ReadLines(log)
                .Where(line => line.Contains(" warn: ", StringComparison.Ordinal) || line.Contains(" fail: ", StringComparison.Ordinal) || line.Contains(" crit: ", StringComparison.Ordinal))

                // Every event of these tests is dead-lettered by design.
                .Where(line => !line.Contains("dead-lettered", StringComparison.Ordinal))
                .Select(line => $"{Path.GetFileName(log)}: {line}"))
            .TakeLast(10));

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
        if (_mosquitto is not null)
        {
            await _mosquitto.DisposeAsync();
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
}

/// <summary>The same, with mosquitto (configured from the control plane's CA) as the device broker.</summary>
public sealed class MosquittoStoreAndForwardFixture : StoreAndForwardFixture
{
    protected override bool UsesMosquitto => true;
}
