using System.Collections.Concurrent;
using System.Text.Json;
using EdgePlatform.Cli;
using EdgePlatform.Cli.Processes;
using EdgePlatform.Contracts;
using EdgePlatform.Mqtt;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// A control plane and two agents, each its own process on loopback, with their own data
/// directories under one temporary folder (kept when a test fails, for its logs).
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes fixtures through IAsyncLifetime.DisposeAsync.")]
public sealed class PlatformFixture : IAsyncLifetime
{
    public const string DeviceA = "e2e-device-a";
    public const string DeviceB = "e2e-device-b";

    private readonly ProcessGroup _processes = new();
    private ServerProfile? _profile;
    private readonly Dictionary<string, LocalBus> _buses = new(StringComparer.Ordinal);

    public string Root { get; } = Directory.CreateTempSubdirectory("edgeplatform-e2e-").FullName;

    public string ServerDirectory => Path.Combine(Root, "server");

    public string AdminTokenFile => Path.Combine(Root, "admin.token");

    public string AdminToken { get; private set; } = string.Empty;

    public ServerEndpoints Endpoints { get; private set; } = null!;

    public ApiClient Api { get; private set; } = null!;

    public HostProcess Server { get; private set; } = null!;

    public Dictionary<string, HostProcess> Agents { get; } = new(StringComparer.Ordinal);

    public string AgentLog(string deviceId) => Path.Combine(Root, $"{deviceId}.log");

    public async Task InitializeAsync()
    {
        _profile = await ServerProfile.CreateAsync(Root);
        Server = _processes.Start(
            "server",
            HostProcess.ServerAssembly,
            [
                .. _profile.Settings(),
                $"--Server:DataDirectory={ServerDirectory}", "--Server:HttpPort=0", "--Server:MqttPort=0", "--Enrollment:TelemetryIntervalSeconds=1", "--Experiments:LookSeconds=1",
                $"--Server:InitialAdminTokenFile={AdminTokenFile}",
                $"--Attestation:TrustedAgentDirectory={Path.GetDirectoryName(HostProcess.AgentAssembly)}",

                // Short-lived attestation tokens, so agents renew them during the run.
                "--Attestation:TokenMinutes=1",
                .. OptionalSetting("Containerize:BaseImageDirectory", ScorerBaseVariable),
            ],
            Path.Combine(Root, "server.log"));
        Endpoints = await Wait.ForFileAsync(Path.Combine(ServerDirectory, ServerEndpoints.FileName), Server, b => JsonSerializer.Deserialize(b, ContractsJsonContext.Default.ServerEndpoints));
        await _profile.StartBrokerAsync();
        await Wait.UntilAsync(() => Task.FromResult(File.Exists(AdminTokenFile)), "the initial admin token");
        AdminToken = (await File.ReadAllTextAsync(AdminTokenFile)).Trim();
        Api = new ApiClient(new Uri(Endpoints.HttpUrl), AdminToken);

        foreach (var deviceId in new[] { DeviceA, DeviceB })
        {
            Agents[deviceId] = StartAgent(deviceId);
        }

        foreach (var (deviceId, process) in Agents)
        {
            var announcement = await Wait.ForFileAsync(
                Path.Combine(Root, deviceId, AgentEndpoints.FileName), process, b => JsonSerializer.Deserialize(b, ContractsJsonContext.Default.AgentEndpoints));
            _buses[deviceId] = await LocalBus.ConnectAsync(deviceId, announcement.LocalBrokerPort);
        }

        await Wait.UntilAsync(
            async () => (await Api.ListDevicesAsync(default)).Count(d => d.Status == DeviceStatuses.Online) == Agents.Count,
            "both devices online");
    }

    public LocalBus Bus(string deviceId) => _buses[deviceId];

    /// <summary>The device's own enrollment key, derived from the server's group key as an operator derives it.</summary>
    public static string DeviceKey(ServerEndpoints endpoints, string deviceId) =>
        EdgePlatform.Security.EnrollmentKeys.Derive(File.ReadAllText(endpoints.EnrollmentKeyFile).Trim(), deviceId);

    /// <summary>Starts an agent process that enrolls as <paramref name="deviceId"/>, from the built agent or another build directory.</summary>
    public HostProcess StartAgent(string deviceId, string? agentAssembly = null) =>
        _processes.Start(
            deviceId,
            agentAssembly ?? HostProcess.AgentAssembly,
            [
                $"--Agent:DataDirectory={Path.Combine(Root, deviceId)}", $"--Agent:DeviceId={deviceId}", $"--Agent:ControlPlaneUrl={Endpoints.HttpUrl}",
                $"--Agent:EnrollmentKey={DeviceKey(Endpoints, deviceId)}", "--LocalBroker:Port=0", "--InferenceHttp:Port=0", "--Telemetry:IntervalSeconds=1",
                .. OptionalSetting("Docker:Endpoint", DockerVariable),
            ],
            AgentLog(deviceId));

    /// <summary>The test script's dockerd, where the agents run models deployed into their containers.</summary>
    public const string DockerVariable = "EDGEPLATFORM_TEST_DOCKER";

    /// <summary>The scorer base image the test script builds, onto which the server containerizes releases.</summary>
    public const string ScorerBaseVariable = "EDGEPLATFORM_TEST_SCORER_BASE";

    /// <summary>A setting from a service the test script announces, left out when it is not there (the tests needing it say so).</summary>
    private static string[] OptionalSetting(string key, string variable) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value ? [$"--{key}={value}"] : [];

    /// <summary>The model card a published version carries as its package's config blob.</summary>
    public async Task<ModelCard> CardAsync(string repository, string manifestDigest)
    {
        var manifest = await ManifestAsync(repository, manifestDigest);
        return ModelCard.Read(await Api.GetBlobAsync(repository, manifest.Config.Digest, default), out var problem) ?? throw new InvalidOperationException(problem);
    }

    /// <summary>The bytes of a published version's layer of <paramref name="mediaType"/> (the ONNX graph, the ML.NET model).</summary>
    public async Task<byte[]> LayerAsync(string repository, string manifestDigest, string mediaType) =>
        await Api.GetBlobAsync(repository, (await ManifestAsync(repository, manifestDigest)).FindLayer(mediaType)!.Digest, default);

    private async Task<OciManifest> ManifestAsync(string repository, string manifestDigest) =>
        JsonSerializer.Deserialize(await Api.GetManifestAsync(repository, manifestDigest, default), ContractsJsonContext.Default.OciManifest)!;

    private Task<TrainingRunInfo>? _baseline;

    /// <summary>Version 1 trained, rolled out to both devices and active on both (once per fixture).</summary>
    public Task<TrainingRunInfo> EnsureBaselineAsync() => _baseline ??= DeployBaselineAsync();

    private async Task<TrainingRunInfo> DeployBaselineAsync()
    {
        var run = await TrainAsync(seed: 42);
        await Api.DeployAsync(new CreateDeploymentRequest($"{run.ModelName}:{run.ModelVersion}", null, true), default);
        foreach (var deviceId in Agents.Keys)
        {
            await WaitForReportAsync(deviceId, d => IsActive(d, run.ManifestDigest!), $"{deviceId} to activate {run.ManifestDigest}");
        }

        return run;
    }

    public static bool IsActive(DeviceInfo device, string manifestDigest) =>
        device.Reported?.Slots.Any(s => s.State == ModelSlotStates.Active && s.ManifestDigest == manifestDigest) == true;

    public async Task<TrainingRunInfo> TrainAsync(int seed) =>
        await EdgePlatform.Cli.Commands.FleetCommands.TrainAndWaitAsync(Api, new TrainingRequest(null, null, null, seed), null, default);

    public async Task<DeviceInfo> WaitForReportAsync(string deviceId, Func<DeviceInfo, bool> condition, string what)
    {
        DeviceInfo device = null!;
        try
        {
            await Wait.UntilAsync(
                async () =>
                {
                    try
                    {
                        device = await Api.GetDeviceAsync(deviceId, default);
                    }
                    catch (CliException ex) when (ex.Message.Contains("not enrolled", StringComparison.Ordinal))
                    {
                        // A fresh agent has not enrolled yet.
                        return false;
                    }

                    return condition(device);
                },
                what);
        }
        catch (TimeoutException ex)
        {
            // Say where the device stood and what its agent said last, so a failure can be read from the test's output alone.
            var report = device is null
                ? "never enrolled"
                : $"{device.Status}, desired version {device.DesiredVersion}, reported {JsonSerializer.Serialize(device.Reported, ContractsJsonContext.Default.ReportedState)}";
            var log = File.Exists(AgentLog(deviceId)) ? string.Join('\n', File.ReadLines(AgentLog(deviceId)).TakeLast(25)) : "(no agent log)";
            throw new TimeoutException($"{ex.Message}; the device: {report}; its log ends:\n{log}", ex);
        }

        return device;
    }

    public async Task DisposeAsync()
    {
        foreach (var bus in _buses.Values)
        {
            await bus.DisposeAsync();
        }

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
}

/// <summary>The test classes that share one running platform.</summary>
[CollectionDefinition(Name)]
public sealed class SharedPlatform : ICollectionFixture<PlatformFixture>
{
    public const string Name = "platform";
}

/// <summary>A client on one device's local broker that collects predictions and dead letters.</summary>
public sealed class LocalBus : IAsyncDisposable
{
    private readonly MqttConnection _connection;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<Prediction>> _predictions = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<DeadLetter> _deadLetters = new();
    private readonly SemaphoreSlim _deadLetterArrived = new(0);

    private LocalBus(MqttConnection connection) => _connection = connection;

    public static async Task<LocalBus> ConnectAsync(string deviceId, int port)
    {
        var connection = new MqttConnection(new MqttConnectionSettings("127.0.0.1", port, $"e2e-{deviceId}-{Guid.NewGuid():N}") { CleanStart = true }, NullLogger.Instance);
        var bus = new LocalBus(connection);
        connection.Subscribe(Topics.LocalPredictions);
        connection.Subscribe(Topics.LocalDeadLetter);
        connection.OnMessage(bus.OnMessageAsync);
        connection.Start();
        using var timeout = new CancellationTokenSource(Wait.Timeout);
        await connection.WaitConnectedAsync(timeout.Token);
        return bus;
    }

    public async Task<Prediction> ScoreAsync(string correlationId, byte[] payload)
    {
        var pending = _predictions.GetOrAdd(correlationId, _ => new TaskCompletionSource<Prediction>(TaskCreationOptions.RunContinuationsAsynchronously));
        await _connection.PublishAsync("events/e2e/sensor", payload, default);
        return await pending.Task.WaitAsync(Wait.Timeout);
    }

    /// <summary>Publishes the true outcome of the event <paramref name="correlationId"/> on the feedback topic.</summary>
    public Task PublishFeedbackAsync(string correlationId, bool label) =>
        _connection.PublishAsync("feedback/e2e", JsonSerializer.SerializeToUtf8Bytes(new LabelFeedback(correlationId, JsonSerializer.SerializeToElement(label)), ContractsJsonContext.Default.LabelFeedback), default);

    public async Task<DeadLetter> PublishExpectingDeadLetterAsync(byte[] payload)
    {
        await _connection.PublishAsync("events/e2e/sensor", payload, default);
        await _deadLetterArrived.WaitAsync(Wait.Timeout);
        _deadLetters.TryDequeue(out var letter);
        return letter!;
    }

    public async ValueTask DisposeAsync()
    {
        await _connection.DisposeAsync();
        _deadLetterArrived.Dispose();
    }

    private Task OnMessageAsync(MqttIncoming message, CancellationToken cancellationToken)
    {
        if (message.Topic == Topics.LocalDeadLetter)
        {
            _deadLetters.Enqueue(JsonSerializer.Deserialize(message.Payload.Span, ContractsJsonContext.Default.DeadLetter)!);
            _deadLetterArrived.Release();
        }
        else if (JsonSerializer.Deserialize(message.Payload.Span, ContractsJsonContext.Default.Prediction) is { CorrelationId: { } id } prediction)
        {
            _predictions.GetOrAdd(id, _ => new TaskCompletionSource<Prediction>(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult(prediction);
        }

        return Task.CompletedTask;
    }
}
