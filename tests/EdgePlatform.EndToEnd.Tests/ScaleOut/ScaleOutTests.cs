using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using EdgePlatform.Cli;
using EdgePlatform.Cli.Processes;
using EdgePlatform.Contracts;
using EdgePlatform.FleetSim;
using EdgePlatform.Training.Datasets;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgePlatform.EndToEnd.Tests.ScaleOut;

/// <summary>
/// The platform in its scale-out profile (<see cref="ScaleOutPlatform"/>): two control-plane
/// replicas behind one PostgreSQL database, mosquitto, the distribution registry and an Azurite
/// blob container. Any replica answers any call; work that runs once runs on the lease holder, and
/// when that replica is killed the other takes over; telemetry is shared between the replicas by
/// the broker and stored once.
/// </summary>
[Trait("Category", "EndToEnd")]
public sealed class ScaleOutTests
{
    private const int IngestDevices = 8;
    private const int ReportsPerDevice = 300;

    [Fact]
    public async Task TwoReplicas_EnrollTrainDeployScore_EachReplicaServesWhatTheOtherDid()
    {
        await using var platform = await ScaleOutPlatform.StartAsync(
            2,
            "--Enrollment:TelemetryIntervalSeconds=1",
            $"--Attestation:TrustedAgentDirectory={Path.GetDirectoryName(HostProcess.AgentAssembly)}");
        using var first = await platform.ApiAsync(1);
        using var second = await platform.ApiAsync(2);

        // Trained through one replica, pushed to the registry through the other: the model's blobs are in the shared container.
        var run = await EdgePlatform.Cli.Commands.FleetCommands.TrainAndWaitAsync(first, new TrainingRequest(null, null, null, 11), null, default);
        await EdgectlAsync(platform, 2, "model", "push", $"{run.ModelName}:{run.ModelVersion}", "--registry", platform.Registry.ToString());

        const string deviceId = "scaleout-agent";
        await using var processes = new ProcessGroup();
        var agent = processes.Start(
            deviceId,
            HostProcess.AgentAssembly,
            [
                $"--Agent:DataDirectory={Path.Combine(platform.Root, deviceId)}", $"--Agent:DeviceId={deviceId}", $"--Agent:ControlPlaneUrl={platform.Url(2)}",
                $"--Agent:EnrollmentKey={EdgePlatform.Security.EnrollmentKeys.Derive(await platform.EnrollmentKeyAsync(), deviceId)}", "--LocalBroker:Port=0", "--InferenceHttp:Port=0",
            ],
            Path.Combine(platform.Root, "agent.log"));
        await Wait.UntilAsync(async () => (await TryGetDeviceAsync(first, deviceId))?.Attestation?.State == AttestationStates.Verified, "the device enrolled through one replica, attested, as the other sees it");

        await second.DeployAsync(new CreateDeploymentRequest($"{run.ModelName}:{run.ModelVersion}", [deviceId], null), default);
        await Wait.UntilAsync(async () => PlatformFixture.IsActive(await first.GetDeviceAsync(deviceId, default), run.ManifestDigest!), "the model active on the device");

        var announcement = await Wait.ForFileAsync(Path.Combine(platform.Root, deviceId, AgentEndpoints.FileName), agent, b => JsonSerializer.Deserialize(b, ContractsJsonContext.Default.AgentEndpoints));
        await using var bus = await LocalBus.ConnectAsync(deviceId, announcement.LocalBrokerPort);
        var dataset = BuiltInDatasets.SensorAnomaly.Load();
        var prediction = await bus.ScoreAsync("scaleout-1", WalkingSkeletonTests.EventJson("scaleout-1", dataset.GetFeatures(0)));
        Assert.Equal(run.ModelVersion, prediction.ModelVersion);

        // Telemetry comes in through whichever replica the broker hands it to; both answer with all of it.
        await Wait.UntilAsync(
            async () => (await first.GetTelemetryAsync(deviceId, default)).SingleOrDefault()?.Reports > 2
                && (await second.GetTelemetryAsync(deviceId, default)).Single().Reports > 2,
            "the device's telemetry stored and visible on both replicas");
    }

    [Fact]
    public async Task LeaseHolderKilledMidRolloutAndMidIngest_RolloutCompletesAndEveryReportIsStoredOnce()
    {
        await using var platform = await ScaleOutPlatform.StartAsync(
            2,
            "--Enrollment:TelemetryIntervalSeconds=5", "--Rollouts:TickSeconds=1", "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:EdgePlatform.ControlPlane=Information",
            $"--Attestation:AllowedAgentBuilds:*:0={FleetSimulator.MeasureBuild()}");
        using var survivor = await platform.ApiAsync(2);
        var run = await EdgePlatform.Cli.Commands.FleetCommands.TrainAndWaitAsync(survivor, new TrainingRequest(null, null, null, 42), null, default);
        await EdgectlAsync(platform, 2, "model", "push", $"{run.ModelName}:{run.ModelVersion}", "--registry", platform.Registry.ToString());

        // Replica 1 started first and holds the leases; devices speak HTTP to replica 2, which survives.
        Assert.Equal("replica-1", await LeaseHolderAsync(platform, "rollouts"));
        var options = new SimulatorOptions
        {
            ControlPlane = platform.Url(2),
            EnrollmentKey = await platform.EnrollmentKeyAsync(),
            Devices = 40,
            IdPrefix = "kill",
            EventsPerSecond = 5,
            WarmUpSeconds = 0.1,
            LateAfterSeconds = null,
        };
        options.Tags["fleet"] = "kill";
        await using var fleet = new FleetSimulator(options, TimeProvider.System, NullLogger.Instance);
        using (var starting = new CancellationTokenSource(TimeSpan.FromMinutes(3)))
        {
            await fleet.StartAsync(starting.Token);
        }

        var publishers = await ConnectPublishersAsync(platform);
        var rollout = await survivor.CreateRolloutAsync(
            new CreateRolloutRequest($"{run.ModelName}:{run.ModelVersion}", "fleet=kill", null, [new(25, null, 3), new(100, null, 0)], new RolloutGates(MaxFailurePercent: 10, MinDevices: 5)),
            default);
        await Wait.UntilAsync(async () => (await survivor.GetRolloutAsync(rollout.Id, default)).Counts?.GetValueOrDefault(RolloutDeviceStates.Active) > 0, "the first devices of the rollout active");

        var acknowledged = new long[IngestDevices];
        var publishing = Task.WhenAll(publishers.Select((d, i) => PublishAsync(d.Id, d.Client, i, acknowledged)));
        await Wait.UntilAsync(async () => await StoredAsync(platform) >= IngestDevices * 20, "the first reports stored");
        await platform.KillReplicaAsync(1);
        Assert.True(acknowledged.Sum() < IngestDevices * ReportsPerDevice, "every report was published before the kill; nothing was in flight");

        // Replica 2 takes the rollout lease over (a higher fencing epoch) within seconds.
        await Wait.UntilAsync(async () => await LeaseHolderAsync(platform, "rollouts") == "replica-2", "replica 2 to take the rollout lease over", TimeSpan.FromSeconds(60));

        // Its supervisor starts replica 1 again under the same id, as systemd or Kubernetes would:
        // what it had received but not acknowledged waits in its broker session, and mosquitto
        // keeps handing the dead session its share until a replica with that id returns.
        await platform.StartReplicaAsync(1);
        Assert.Equal("replica-2", await LeaseHolderAsync(platform, "rollouts"));
        try
        {
            await Wait.UntilAsync(async () => (rollout = await survivor.GetRolloutAsync(rollout.Id, default)).State != RolloutStates.Running, "the rollout to finish on replica 2", TimeSpan.FromMinutes(3));
        }
        catch (TimeoutException)
        {
            Assert.Fail($"the rollout did not finish: stage {rollout.CurrentStage}, {string.Join(", ", rollout.Counts ?? new Dictionary<string, int>())}\n{platform.LogTails(40)}");
        }

        Assert.Equal(RolloutStates.Completed, rollout.State);
        Assert.Equal(40, rollout.Counts?.GetValueOrDefault(RolloutDeviceStates.Active));
        Assert.All(fleet.Devices, d => Assert.Equal(run.ManifestDigest, d.Active?.ManifestDigest));

        await publishing.WaitAsync(TimeSpan.FromMinutes(2));
        Assert.All(acknowledged, a => Assert.Equal(ReportsPerDevice, a));
        try
        {
            await Wait.UntilAsync(async () => await StoredAsync(platform) >= IngestDevices * ReportsPerDevice, "every acknowledged report stored", TimeSpan.FromMinutes(2));
        }
        catch (TimeoutException)
        {
            Assert.Fail($"{await StoredAsync(platform)} of {IngestDevices * ReportsPerDevice} reports stored\n{platform.LogTails()}");
        }

        Assert.Equal(IngestDevices * ReportsPerDevice, await StoredAsync(platform));
        for (var i = 0; i < IngestDevices; i++)
        {
            Assert.Equal(ReportsPerDevice, await platform.ScalarAsync($"SELECT COUNT(DISTINCT sequence) FROM telemetry WHERE device_id = 'ingest-{i:D2}'"));
        }

        var ingest = await survivor.GetTelemetryIngestAsync(default);
        Assert.DoesNotContain(ingest.Rejections, r => r.Reason != TelemetryRejections.ReplayedSequence);
    }

    private static Task<long> StoredAsync(ScaleOutPlatform platform) =>
        platform.ScalarAsync("SELECT COUNT(*) FROM telemetry WHERE device_id LIKE 'ingest-%'");

    private static async Task<string?> LeaseHolderAsync(ScaleOutPlatform platform, string lease)
    {
        await using var connection = new Npgsql.NpgsqlConnection(platform.StoreConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT holder FROM leases WHERE name = @name AND expires_ms > (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint", connection);
        command.Parameters.AddWithValue("name", lease);
        return await command.ExecuteScalarAsync() as string;
    }

    /// <summary>Devices that publish health reports one per message, each acknowledged by mosquitto before the next.</summary>
    private static async Task PublishAsync(string deviceId, IMqttClient client, int index, long[] acknowledged)
    {
        var start = DateTimeOffset.UtcNow;
        for (var sequence = 1L; sequence <= ReportsPerDevice; sequence++)
        {
            var result = await client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic(Topics.Telemetry(deviceId, TelemetryKinds.Health))
                .WithPayload(TelemetryArrow.Serialize(deviceId, [new TelemetryRecord(sequence, start.AddSeconds(sequence), "m", "1", null, 10, 10, 0, 0, 1, 2, 3, 4, 5)]))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .Build());
            Assert.True(result.IsSuccess, $"mosquitto refused report {sequence} of {deviceId}: {result.ReasonCode}");
            acknowledged[index] = sequence;

            // A steady stream, so the kill lands in the middle of it.
            await Task.Delay(20);
        }
    }

    private static async Task<IReadOnlyList<(string Id, IMqttClient Client)>> ConnectPublishersAsync(ScaleOutPlatform platform)
    {
        using var http = new HttpClient { BaseAddress = platform.Url(2) };
        var key = await platform.EnrollmentKeyAsync();
        var devices = new List<(string, IMqttClient)>();
        for (var i = 0; i < IngestDevices; i++)
        {
            var deviceId = $"ingest-{i:D2}";
            using var deviceKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var csr = new CertificateRequest($"CN={deviceId}", deviceKey, HashAlgorithmName.SHA256).CreateSigningRequestPem();
            using var response = await http.PostAsJsonAsync("api/v1/enrollments/devices", new EnrollmentRequest(deviceId, EdgePlatform.Security.EnrollmentKeys.Derive(key, deviceId), null, csr), ContractsJsonContext.Default.EnrollmentRequest);
            Assert.True(response.IsSuccessStatusCode, $"enrollment of {deviceId}: {response.StatusCode}\n{platform.LogTails()}");
            var enrollment = (await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.EnrollmentResponse))!;
            using var issued = X509Certificate2.CreateFromPem(enrollment.Certificate);
            var client = new MqttClientFactory().CreateMqttClient();
            await client.ConnectAsync(new MqttClientOptionsBuilder()
                .WithTcpServer("127.0.0.1", platform.MqttPort)
                .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
                .WithClientId(deviceId)
                .WithTlsOptions(new MqttClientTlsOptionsBuilder()
                    .UseTls()
                    .WithTargetHost(enrollment.MqttHost)
                    .WithClientCertificates([issued.CopyWithPrivateKey(deviceKey)])
                    .WithTrustChain([X509Certificate2.CreateFromPem(enrollment.CaCertificate)])
                    .Build())
                .Build());
            devices.Add((deviceId, client));
        }

        return devices;
    }

    private static async Task<DeviceInfo?> TryGetDeviceAsync(ApiClient api, string deviceId)
    {
        try
        {
            return await api.GetDeviceAsync(deviceId, default);
        }
        catch (CliException ex) when (ex.Message.Contains("not enrolled", StringComparison.Ordinal))
        {
            return null;
        }
    }

    private static async Task EdgectlAsync(ScaleOutPlatform platform, int replica, params string[] arguments)
    {
        var token = (await File.ReadAllTextAsync(platform.AdminTokenFile)).Trim();
        var (exitCode, output) = await Edgectl.RunAsync([.. arguments, "--server", platform.Url(replica).ToString(), "--token", token]);
        Assert.True(exitCode == 0, $"edgectl {string.Join(' ', arguments)} exited {exitCode}:\n{output}\n{platform.LogTails()}");
    }
}
