using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using EdgePlatform.Cli.Processes;
using EdgePlatform.Contracts;
using EdgePlatform.Mqtt;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgePlatform.Cli.Commands;

/// <summary>
/// The whole loop on one machine: a control plane, two agents as separate processes, a model
/// trained on the shipped dataset, exported, signed and rolled out, events scored on each
/// device and telemetry arriving in the cloud.
/// </summary>
public static class DemoCommand
{
    /// <summary>The first admin token of the demo's server, kept beside its data (mode 0600).</summary>
    public const string AdminTokenFile = "admin.token";

    private static readonly string[] DeviceNames = ["edge-berlin-01", "edge-munich-02", "edge-hamburg-03", "edge-cologne-04"];

    public static Command Create()
    {
        var dataDir = new Option<string>("--data-dir") { Description = "Where the server and agents keep their state (default: a new temporary directory)" };
        var events = new Option<int>("--events") { Description = "Events to stream into each device (default 200)", DefaultValueFactory = _ => 200 };
        var devices = new Option<int>("--devices") { Description = "Number of edge agents, 1-4 (default 2)", DefaultValueFactory = _ => 2 };
        var keepRunning = new Option<bool>("--keep-running") { Description = "Leave everything running after the summary until Ctrl-C" };
        var demo = new Command("demo", "Run the platform end to end on this machine: train, sign, roll out, score, report")
        {
            dataDir, events, devices, keepRunning,
        };
        demo.SetAction((parse, ct) => RunAsync(
            new DemoSettings(
                parse.GetValue(dataDir) is { } dir ? Path.GetFullPath(dir) : Directory.CreateTempSubdirectory("edgeplatform-demo-").FullName,
                parse.GetValue(events),
                parse.GetValue(devices),
                parse.GetValue(keepRunning),
                parse.IsJson()),
            ct));
        return demo;
    }

    private static async Task<int> RunAsync(DemoSettings settings, CancellationToken ct)
    {
        if (settings.Devices is < 1 or > 4)
        {
            throw new CliException("--devices must be between 1 and 4");
        }

        if (settings.Events is < 1 or > 100_000)
        {
            throw new CliException("--events must be between 1 and 100000");
        }

        // Progress is for people; with -o json stdout carries only the summary.
        var progress = settings.Json ? Console.Error : Console.Out;
        var clock = Stopwatch.StartNew();
        void Say(string line) => progress.WriteLine($"[{clock.Elapsed.TotalSeconds,5:0.0}s] {line}");

        Say($"data directory: {settings.DataDirectory}");
        await using var group = new ProcessGroup();

        var (server, endpoints) = await LocalControlPlane.StartAsync(
            group,
            settings.DataDirectory,
            ["--Enrollment:TelemetryIntervalSeconds=2", $"--Attestation:TrustedAgentDirectory={Path.GetDirectoryName(HostProcess.AgentAssembly)}"],
            ct).ConfigureAwait(false);
        Say($"control plane up: API {endpoints.HttpUrl}, MQTT {endpoints.MqttHost}:{endpoints.MqttPort} (log: {server.LogPath})");

        using var api = new ApiClient(new Uri(endpoints.HttpUrl), (await File.ReadAllTextAsync(Path.Combine(settings.DataDirectory, AdminTokenFile), ct).ConfigureAwait(false)).Trim());
        var agents = new List<(string DeviceId, HostProcess Process, string DataDirectory)>();
        var groupKey = (await File.ReadAllTextAsync(endpoints.EnrollmentKeyFile, ct).ConfigureAwait(false)).Trim();
        foreach (var deviceId in DeviceNames.Take(settings.Devices))
        {
            var agentDir = Path.Combine(settings.DataDirectory, "agents", deviceId);
            var keyFile = WriteDeviceKey(agentDir, groupKey, deviceId);
            var process = group.Start(
                $"agent {deviceId}",
                HostProcess.AgentAssembly,
                [
                    $"--Agent:DataDirectory={agentDir}", $"--Agent:DeviceId={deviceId}", $"--Agent:ControlPlaneUrl={endpoints.HttpUrl}",
                    $"--Agent:EnrollmentKeyFile={keyFile}", "--Agent:Tags:site=" + deviceId.Split('-')[1],
                    "--LocalBroker:Port=0", "--InferenceHttp:Port=0", "--Telemetry:IntervalSeconds=2",
                ],
                Path.Combine(settings.DataDirectory, "agents", $"{deviceId}.log"));
            agents.Add((deviceId, process, agentDir));
        }

        var localBrokers = new Dictionary<string, AgentEndpoints>(StringComparer.Ordinal);
        foreach (var (deviceId, process, agentDir) in agents)
        {
            var local = await WaitForFileAsync(Path.Combine(agentDir, AgentEndpoints.FileName), process, b => JsonSerializer.Deserialize(b, ContractsJsonContext.Default.AgentEndpoints), ct).ConfigureAwait(false);
            localBrokers[deviceId] = local;
            Say($"agent {deviceId} enrolled (pid {process.Id}, local events on {local.LocalBrokerHost}:{local.LocalBrokerPort})");
        }

        await WaitUntilAsync(
            async () => (await api.ListDevicesAsync(ct).ConfigureAwait(false)).Count(d => d.Status == DeviceStatuses.Online) == agents.Count,
            TimeSpan.FromSeconds(30),
            "every device to come online",
            ct).ConfigureAwait(false);
        Say($"{agents.Count} device(s) online");

        var run = await FleetCommands.TrainAndWaitAsync(api, new TrainingRequest(null, null, null, null), s => Say(s), ct).ConfigureAwait(false);
        var metrics = run.Metrics ?? new Dictionary<string, double>();
        Say($"trained, exported to ONNX and signed: {run.ModelName}:{run.ModelVersion} {Render.ShortDigest(run.ManifestDigest)} " +
            $"(AUC {metrics.GetValueOrDefault("auc"):0.000}, ML.NET/ONNX parity {metrics.GetValueOrDefault("parityMaxAbsDiff"):0.0E+0})");

        var deployment = await api.DeployAsync(new CreateDeploymentRequest($"{run.ModelName}:{run.ModelVersion}", null, true), ct).ConfigureAwait(false);
        Say($"deployment {deployment.Id} to {string.Join(", ", deployment.Devices)}");
        await WaitUntilAsync(
            async () => (await api.ListDevicesAsync(ct).ConfigureAwait(false)).Count(d => IsActive(d, run.ManifestDigest!)) == agents.Count,
            TimeSpan.FromSeconds(60),
            "every device to verify and activate the model",
            ct).ConfigureAwait(false);
        Say($"model active on {agents.Count} device(s): signature, digests and sizes verified by each agent");

        var card = await FetchCardAsync(api, deployment, ct).ConfigureAwait(false);
        var results = await Task.WhenAll(localBrokers.Select(b => StreamEventsAsync(b.Key, b.Value, card, settings.Events, ct))).ConfigureAwait(false);
        foreach (var result in results)
        {
            Say($"{result.DeviceId}: {result.Sent} events sent, {result.Predictions} scored ({result.Anomalies} flagged anomalous), " +
                $"{result.DeadLetters} malformed event(s) dead-lettered, p50 {result.P50Ms:0.000} ms");
        }

        var expected = results.ToDictionary(r => r.DeviceId, r => (long)r.Predictions, StringComparer.Ordinal);
        IReadOnlyList<DeviceTelemetrySummary> telemetry = [];
        await WaitUntilAsync(
            async () =>
            {
                telemetry = await api.GetTelemetryAsync(null, ct).ConfigureAwait(false);
                return expected.All(e => telemetry.Any(t => t.DeviceId == e.Key && t.Latest.EventsScored >= e.Value));
            },
            TimeSpan.FromSeconds(30),
            "telemetry to report every scored event",
            ct).ConfigureAwait(false);
        foreach (var summary in telemetry)
        {
            Say($"telemetry from {summary.DeviceId}: {summary.Reports} reports, {summary.Latest.EventsScored} events scored, " +
                $"{summary.Latest.DeadLettered} dead-lettered, RSS {summary.Latest.MemoryBytes / 1048576.0:0} MB");
        }

        var devicesNow = await api.ListDevicesAsync(ct).ConfigureAwait(false);
        var summaryRecord = new DemoSummary(
            devicesNow.Count,
            devicesNow.Count(d => IsActive(d, run.ManifestDigest!)),
            results.Sum(r => (long)r.Predictions),
            results.Sum(r => (long)r.DeadLetters),
            telemetry.Count(t => t.Reports > 0),
            run.ManifestDigest!,
            $"{run.ModelName}:{run.ModelVersion}",
            settings.DataDirectory,
            Math.Round(clock.Elapsed.TotalSeconds, 1));
        if (settings.Json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(summaryRecord, DemoJsonContext.Default.DemoSummary));
        }
        else
        {
            Console.Out.WriteLine(
                $"demo: {summaryRecord.DevicesActive}/{summaryRecord.Devices} devices running {summaryRecord.Model} ({Render.ShortDigest(summaryRecord.ManifestDigest)}), " +
                $"{summaryRecord.EventsScored} events scored, {summaryRecord.EventsDeadLettered} dead-lettered, " +
                $"telemetry from {summaryRecord.TelemetryDevices} devices, in {summaryRecord.ElapsedSeconds:0.0} s");
        }

        if (settings.KeepRunning)
        {
            Say($"still running; try: EDGECTL_TOKEN=$(cat {Path.Combine(settings.DataDirectory, AdminTokenFile)}) edgectl devices list --server {endpoints.HttpUrl}   (Ctrl-C stops everything)");
            try
            {
                await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Say("stopping");
            }
        }

        return summaryRecord.DevicesActive == summaryRecord.Devices && summaryRecord.TelemetryDevices == summaryRecord.Devices ? 0 : 1;
    }

    private static bool IsActive(DeviceInfo device, string manifestDigest) =>
        device.Reported?.Slots.Any(s => s.State == ModelSlotStates.Active && s.ManifestDigest == manifestDigest) == true;

    private static async Task<ModelCard> FetchCardAsync(ApiClient api, DeploymentInfo deployment, CancellationToken ct)
    {
        var repository = $"models/{deployment.ModelName}";
        var manifest = JsonSerializer.Deserialize(await api.GetManifestAsync(repository, deployment.ManifestDigest, ct).ConfigureAwait(false), ContractsJsonContext.Default.OciManifest)
            ?? throw new CliException("the model manifest is empty");
        return JsonSerializer.Deserialize(await api.GetBlobAsync(repository, manifest.Config.Digest, ct).ConfigureAwait(false), ContractsJsonContext.Default.ModelCard)
            ?? throw new CliException("the model card is empty");
    }

    private static async Task<StreamResult> StreamEventsAsync(string deviceId, AgentEndpoints broker, ModelCard card, int count, CancellationToken ct)
    {
        var predictions = new ConcurrentDictionary<string, Prediction>(StringComparer.Ordinal);
        var deadLetters = 0;
        var allIn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        const int Malformed = 1;

        await using var client = new MqttConnection(
            new MqttConnectionSettings(broker.LocalBrokerHost, broker.LocalBrokerPort, $"edgectl-demo-{deviceId}") { CleanStart = true },
            NullLogger.Instance);
        client.Subscribe(Topics.LocalPredictions);
        client.Subscribe(Topics.LocalDeadLetter);
        client.OnMessage((message, _) =>
        {
            if (message.Topic == Topics.LocalDeadLetter)
            {
                Interlocked.Increment(ref deadLetters);
            }
            else if (JsonSerializer.Deserialize(message.Payload.Span, ContractsJsonContext.Default.Prediction) is { CorrelationId: { } id } prediction)
            {
                predictions[id] = prediction;
            }

            if (predictions.Count >= count && Volatile.Read(ref deadLetters) >= Malformed)
            {
                allIn.TrySetResult();
            }

            return Task.CompletedTask;
        });
        client.Start();
        await client.WaitConnectedAsync(ct).ConfigureAwait(false);

        var generator = new DemoEvents(card, seed: deviceId.GetHashCode(StringComparison.Ordinal));
        for (var i = 0; i < count; i++)
        {
            await client.PublishAsync($"events/{deviceId}/pump", generator.Next($"{deviceId}-{i}", anomalous: i % 20 == 7), ct).ConfigureAwait(false);
        }

        // One broken reading, to show that bad input is dead-lettered with its reason, not a crash.
        await client.PublishAsync($"events/{deviceId}/pump", """{"id":"broken-1","temperature_c":"hot"}"""u8.ToArray(), ct).ConfigureAwait(false);

        try
        {
            await allIn.Task.WaitAsync(TimeSpan.FromSeconds(30), ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new CliException($"{deviceId} returned {predictions.Count} of {count} predictions within 30 s");
        }

        var latencies = predictions.Values.Select(p => p.LatencyMs).Order().ToList();
        return new StreamResult(
            deviceId,
            count,
            predictions.Count,
            predictions.Values.Count(p => p.Label == true),
            Volatile.Read(ref deadLetters),
            latencies.Count > 0 ? latencies[latencies.Count / 2] : 0);
    }

    internal static async Task<T> WaitForFileAsync<T>(string path, HostProcess process, Func<byte[], T?> parse, CancellationToken ct)
        where T : class
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new CliException($"{process.Name} exited with code {process.ExitCode}; last log lines:\n{process.LogTail()}");
            }

            if (File.Exists(path))
            {
                try
                {
                    if (parse(await File.ReadAllBytesAsync(path, ct).ConfigureAwait(false)) is { } value)
                    {
                        return value;
                    }
                }
                catch (JsonException)
                {
                    // Caught mid-write; the writer renames into place, so the next read is whole.
                }
            }

            await Task.Delay(100, ct).ConfigureAwait(false);
        }

        throw new CliException($"{process.Name} did not become ready within 90 s; last log lines:\n{process.LogTail()}");
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition().ConfigureAwait(false))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new CliException($"timed out after {timeout.TotalSeconds:0} s waiting for {what}");
            }

            await Task.Delay(200, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The device's own enrollment key, derived from the group key as an operator would with
    /// <c>edgectl enrollment derive</c>, in a file only this user reads: the group key itself
    /// never goes to an agent.
    /// </summary>
    private static string WriteDeviceKey(string agentDirectory, string groupKey, string deviceId)
    {
        Directory.CreateDirectory(agentDirectory);
        var path = Path.Combine(agentDirectory, "enrollment.key");
        File.Delete(path);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite };
        using var writer = new StreamWriter(new FileStream(path, options));
        writer.Write(EdgePlatform.Security.EnrollmentKeys.Derive(groupKey, deviceId));
        return path;
    }

    private sealed record DemoSettings(string DataDirectory, int Events, int Devices, bool KeepRunning, bool Json);

    private sealed record StreamResult(string DeviceId, int Sent, int Predictions, int Anomalies, int DeadLetters, double P50Ms);
}

/// <summary>The demo's closing line with <c>-o json</c>.</summary>
public sealed record DemoSummary(
    int Devices,
    int DevicesActive,
    long EventsScored,
    long EventsDeadLettered,
    int TelemetryDevices,
    string ManifestDigest,
    string Model,
    string DataDirectory,
    double ElapsedSeconds);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(DemoSummary))]
internal sealed partial class DemoJsonContext : JsonSerializerContext;
