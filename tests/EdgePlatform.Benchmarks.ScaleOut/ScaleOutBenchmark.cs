using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EdgePlatform.Cli.Commands;
using EdgePlatform.Contracts;
using EdgePlatform.EndToEnd.Tests.ScaleOut;
using EdgePlatform.FleetSim;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgePlatform.Benchmarks.ScaleOut;

/// <summary>
/// The scale-out profile (PostgreSQL, mosquitto, Azurite, replicas as processes) with one replica
/// and then two, each on a fresh database: telemetry ingest (devices publish a fixed number of
/// reports as fast as mosquitto takes them; reports/s is the total over the time until the last
/// one is stored, counted in PostgreSQL), and a staged rollout to a fleet of simulated devices
/// spread over the replicas' URLs. Reports the ratio of two replicas to one.
/// </summary>
internal static class ScaleOutBenchmark
{
    private const int Parallelism = 32;
    private static readonly DateTimeOffset Epoch = DateTimeOffset.UtcNow;

    public static async Task<int> RunAsync(BenchmarkSettings settings, CancellationToken cancellationToken)
    {
        Console.WriteLine($"{Environment.ProcessorCount} CPU cores on this machine, shared by PostgreSQL, mosquitto, Azurite, the replicas and the simulated devices; load average {ProcStats.LoadAverage()}");
        var ingest = new List<IngestResult>();
        foreach (var replicas in settings.Replicas)
        {
            ingest.Add(await IngestAsync(replicas, settings, cancellationToken).ConfigureAwait(false));
        }

        var rollouts = new List<RolloutResult>();
        if (settings.FleetDevices > 0)
        {
            foreach (var replicas in settings.Replicas)
            {
                rollouts.Add(await RolloutAsync(replicas, settings, cancellationToken).ConfigureAwait(false));
            }
        }

        Console.WriteLine();
        Console.WriteLine("| replicas | reports | stored in | reports/s | vs 1 replica | replica CPU (s, each) | PostgreSQL CPU | mosquitto CPU |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---|---:|---:|");
        var baseline = ingest.FirstOrDefault(r => r.Replicas == 1)?.ReportsPerSecond;
        foreach (var r in ingest)
        {
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"| {r.Replicas} | {r.Stored:N0} of {r.Published:N0} | {r.Seconds:0.0} s | {r.ReportsPerSecond:N0} | {(baseline is { } b ? $"{r.ReportsPerSecond / b:0.00}x" : "-")} | {string.Join(" / ", r.ReplicaCpuSeconds.Select(c => c.ToString("0.0", CultureInfo.InvariantCulture)))} | {r.DatabaseCpuSeconds:0.0} s | {r.BrokerCpuSeconds:0.0} s |"));
        }

        if (rollouts.Count > 0)
        {
            Console.WriteLine();
            Console.WriteLine("| replicas | devices | start-up (enroll, attest, connect) | rollout (3 stages) | vs 1 replica | replica CPU (s, each) | state |");
            Console.WriteLine("|---:|---:|---:|---:|---:|---|---|");
            var rolloutBaseline = rollouts.FirstOrDefault(r => r.Replicas == 1)?.RolloutSeconds;
            foreach (var r in rollouts)
            {
                Console.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"| {r.Replicas} | {r.Devices:N0} | {r.StartupSeconds:0.0} s | {r.RolloutSeconds:0.0} s | {(rolloutBaseline is { } b ? $"{r.RolloutSeconds / b:0.00}x time" : "-")} | {string.Join(" / ", r.ReplicaCpuSeconds.Select(c => c.ToString("0.0", CultureInfo.InvariantCulture)))} | {r.State} |"));
            }
        }

        var exact = ingest.All(r => r.Stored == r.Published);
        var completed = rollouts.All(r => r.State == RolloutStates.Completed);
        Console.WriteLine();
        Console.WriteLine(exact ? "every published report stored exactly once (counted in PostgreSQL)" : "COUNTS DIFFER: see above");
        if (rollouts.Count > 0)
        {
            Console.WriteLine(completed ? "every rollout completed with every device active" : "A ROLLOUT DID NOT COMPLETE: see above");
        }

        return exact && completed ? 0 : 1;
    }

    private sealed record IngestResult(int Replicas, long Published, long Stored, double Seconds, IReadOnlyList<double> ReplicaCpuSeconds, double DatabaseCpuSeconds, double BrokerCpuSeconds)
    {
        public double ReportsPerSecond => Stored / Seconds;
    }

    private sealed record RolloutResult(int Replicas, int Devices, double StartupSeconds, double RolloutSeconds, IReadOnlyList<double> ReplicaCpuSeconds, string State);

    private static async Task<IngestResult> IngestAsync(int replicas, BenchmarkSettings settings, CancellationToken cancellationToken)
    {
        await using var platform = await ScaleOutPlatform.StartAsync(replicas, withRegistry: false, "--Logging:LogLevel:Default=Warning", "--Enrollment:TelemetryIntervalSeconds=300").ConfigureAwait(false);
        var devices = await ConnectDevicesAsync(platform, replicas, settings.IngestDevices, cancellationToken).ConfigureAwait(false);
        await platform.WaitLinkedAsync().ConfigureAwait(false);
        Console.WriteLine($"ingest, {replicas} replica(s): {devices.Count} devices enrolled and connected to mosquitto");

        var cpuBefore = ReplicaCpu(platform, replicas);
        var database = await platform.DatabaseServerProcessIdAsync().ConfigureAwait(false);
        var databaseBefore = ProcStats.TreeCpuSeconds(database);
        var brokerBefore = ProcStats.CpuSeconds(platform.BrokerProcessId);
        var clock = Stopwatch.StartNew();
        long published = 0;
        await Parallel.ForEachAsync(
            devices,
            new ParallelOptions { MaxDegreeOfParallelism = devices.Count, CancellationToken = cancellationToken },
            async (device, ct) =>
            {
                var sequence = 1L;
                for (var message = 0; message < settings.MessagesPerDevice; message++)
                {
                    var records = Enumerable.Range(0, settings.ReportsPerMessage).Select(_ => Report(sequence++)).ToList();
                    var result = await device.Client.PublishAsync(
                        new MqttApplicationMessageBuilder()
                            .WithTopic(Topics.Telemetry(device.Id, TelemetryKinds.Health))
                            .WithPayload(TelemetryArrow.Serialize(device.Id, records))
                            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                            .Build(),
                        ct).ConfigureAwait(false);
                    if (!result.IsSuccess)
                    {
                        throw new InvalidOperationException($"mosquitto refused a publish of {device.Id}: {result.ReasonCode}");
                    }

                    Interlocked.Add(ref published, settings.ReportsPerMessage);
                }
            }).ConfigureAwait(false);
        var publishedFor = clock.Elapsed;

        // mosquitto acknowledges devices before a replica has stored their reports: wait for the tail.
        long stored;
        var lastProgress = clock.Elapsed;
        var lastStored = -1L;
        while (true)
        {
            stored = await platform.ScalarAsync("SELECT COUNT(*) FROM telemetry").ConfigureAwait(false);
            if (stored != lastStored)
            {
                lastStored = stored;
                lastProgress = clock.Elapsed;
            }

            if (stored >= published || clock.Elapsed - lastProgress > TimeSpan.FromSeconds(15))
            {
                break;
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }

        var result = new IngestResult(
            replicas,
            published,
            stored,
            lastProgress.TotalSeconds,
            [.. ReplicaCpu(platform, replicas).Zip(cpuBefore, (after, before) => after - before)],
            ProcStats.TreeCpuSeconds(database) - databaseBefore,
            ProcStats.CpuSeconds(platform.BrokerProcessId) - brokerBefore);
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"ingest, {replicas} replica(s): published {published} reports in {publishedFor.TotalSeconds:0.0} s; stored {stored} in {result.Seconds:0.0} s = {result.ReportsPerSecond:0} reports/s; load average {ProcStats.LoadAverage()}"));
        foreach (var device in devices)
        {
            device.Client.Dispose();
        }

        return result;
    }

    private static async Task<RolloutResult> RolloutAsync(int replicas, BenchmarkSettings settings, CancellationToken cancellationToken)
    {
        await using var platform = await ScaleOutPlatform.StartAsync(
            replicas,
            withRegistry: false,
            "--Logging:LogLevel:Default=Warning", "--Enrollment:TelemetryIntervalSeconds=300", "--Rollouts:TickSeconds=1",
            $"--Attestation:AllowedAgentBuilds:*:0={FleetSimulator.MeasureBuild()}").ConfigureAwait(false);
        using var api = await platform.ApiAsync(1).ConfigureAwait(false);
        var run = await FleetCommands.TrainAndWaitAsync(api, new TrainingRequest(null, "scaleout-bench", null, 42, settings.Trees, 16, 0.01), null, cancellationToken).ConfigureAwait(false);
        var model = await api.GetModelAsync($"{run.ModelName}:{run.ModelVersion}", cancellationToken).ConfigureAwait(false);

        // The fleet speaks HTTP to every replica, a share each, as it would through a load balancer.
        var key = await platform.EnrollmentKeyAsync().ConfigureAwait(false);
        var fleets = Enumerable.Range(1, replicas).Select(replica =>
        {
            var options = new SimulatorOptions
            {
                ControlPlane = platform.Url(replica),
                EnrollmentKey = key,
                Devices = settings.FleetDevices / replicas + (replica <= settings.FleetDevices % replicas ? 1 : 0),
                IdPrefix = string.Create(CultureInfo.InvariantCulture, $"r{replica}"),
                StartConcurrency = 32,
                TelemetryIntervalSeconds = 300,
                EventsPerSecond = 1,
                LateAfterSeconds = null,
            };
            options.Tags["fleet"] = "bench";
            return new FleetSimulator(options, TimeProvider.System, NullLogger.Instance);
        }).ToList();
        try
        {
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(fleets.Select(f => f.StartAsync(cancellationToken))).ConfigureAwait(false);
            var startup = clock.Elapsed;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rollout, {replicas} replica(s): {settings.FleetDevices} devices enrolled, attested and connected in {startup.TotalSeconds:0.0} s"));

            var cpuBefore = ReplicaCpu(platform, replicas);
            clock.Restart();
            using var patient = new HttpClient { BaseAddress = platform.Url(1), Timeout = TimeSpan.FromMinutes(10) };
            patient.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", (await File.ReadAllTextAsync(platform.AdminTokenFile, cancellationToken).ConfigureAwait(false)).Trim());
            using var created = await patient.PostAsJsonAsync(
                "api/v1/rollouts",
                new CreateRolloutRequest(
                    $"{model.Name}:{model.Version}",
                    "fleet=bench",
                    null,
                    [new(10, null, settings.BakeSeconds), new(50, null, settings.BakeSeconds), new(100, null, 0)],
                    new RolloutGates(MaxFailurePercent: 5, MinDevices: Math.Min(10, settings.FleetDevices))),
                ContractsJsonContext.Default.CreateRolloutRequest,
                cancellationToken).ConfigureAwait(false);
            created.EnsureSuccessStatusCode();
            var rollout = (await created.Content.ReadFromJsonAsync(ContractsJsonContext.Default.RolloutInfo, cancellationToken).ConfigureAwait(false))!;
            var lastLine = TimeSpan.Zero;
            while (rollout.State == RolloutStates.Running || fleets.Any(f => f.Devices.Any(d => d.Active?.ManifestDigest != model.ManifestDigest)))
            {
                await Task.Delay(500, cancellationToken).ConfigureAwait(false);
                rollout = (await patient.GetFromJsonAsync($"api/v1/rollouts/{rollout.Id}?limit=1", ContractsJsonContext.Default.RolloutDetail, cancellationToken).ConfigureAwait(false))!.Rollout;
                if (rollout.State is not (RolloutStates.Running or RolloutStates.Completed))
                {
                    break;
                }

                if (clock.Elapsed - lastLine > TimeSpan.FromSeconds(10))
                {
                    lastLine = clock.Elapsed;
                    Console.WriteLine(string.Create(
                        CultureInfo.InvariantCulture,
                        $"  [{clock.Elapsed.TotalSeconds,6:0.0}s] stage {rollout.CurrentStage + 1}, {rollout.State}: {rollout.Counts?.GetValueOrDefault(RolloutDeviceStates.Active) ?? 0} active"));
                }
            }

            var elapsed = clock.Elapsed;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rollout, {replicas} replica(s): {rollout.State} in {elapsed.TotalSeconds:0.0} s{(rollout.Reason is { } reason ? $" ({reason})" : "")}"));
            return new RolloutResult(
                replicas,
                settings.FleetDevices,
                startup.TotalSeconds,
                elapsed.TotalSeconds,
                [.. ReplicaCpu(platform, replicas).Zip(cpuBefore, (after, before) => after - before)],
                rollout.State);
        }
        finally
        {
            foreach (var fleet in fleets)
            {
                await fleet.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static double[] ReplicaCpu(ScaleOutPlatform platform, int replicas) =>
        [.. Enumerable.Range(1, replicas).Select(r => ProcStats.CpuSeconds(platform.Process(r).Id))];

    /// <summary>Enrolls devices as real ones do (a key each, a CSR, a certificate back), a share through each replica, and connects them to mosquitto with mTLS.</summary>
    private static async Task<IReadOnlyList<Device>> ConnectDevicesAsync(ScaleOutPlatform platform, int replicas, int count, CancellationToken cancellationToken)
    {
        var key = await platform.EnrollmentKeyAsync().ConfigureAwait(false);
        var clients = Enumerable.Range(1, replicas).Select(r => new HttpClient { BaseAddress = platform.Url(r) }).ToList();
        var devices = new Device[count];
        var factory = new MqttClientFactory();
        try
        {
            await Parallel.ForEachAsync(
                Enumerable.Range(0, count),
                new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken },
                async (i, ct) =>
                {
                    var deviceId = string.Create(CultureInfo.InvariantCulture, $"bench-{i:D5}");
                    using var deviceKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                    var csr = new CertificateRequest($"CN={deviceId}", deviceKey, HashAlgorithmName.SHA256).CreateSigningRequestPem();
                    using var response = await clients[i % replicas].PostAsJsonAsync(
                        "api/v1/enrollments/devices",
                        new EnrollmentRequest(deviceId, EdgePlatform.Security.EnrollmentKeys.Derive(key, deviceId), null, csr),
                        ContractsJsonContext.Default.EnrollmentRequest,
                        ct).ConfigureAwait(false);
                    response.EnsureSuccessStatusCode();
                    var enrollment = (await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.EnrollmentResponse, ct).ConfigureAwait(false))!;
                    using var issued = X509Certificate2.CreateFromPem(enrollment.Certificate);
                    var client = factory.CreateMqttClient();
                    await client.ConnectAsync(
                        new MqttClientOptionsBuilder()
                            .WithTcpServer("127.0.0.1", platform.MqttPort)
                            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
                            .WithClientId(deviceId)
                            .WithTlsOptions(new MqttClientTlsOptionsBuilder()
                                .UseTls()
                                .WithTargetHost(enrollment.MqttHost)
                                .WithClientCertificates([issued.CopyWithPrivateKey(deviceKey)])
                                .WithTrustChain([X509Certificate2.CreateFromPem(enrollment.CaCertificate)])
                                .Build())
                            .WithTimeout(TimeSpan.FromSeconds(60))
                            .Build(),
                        ct).ConfigureAwait(false);
                    devices[i] = new Device(deviceId, client);
                }).ConfigureAwait(false);
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }

        return devices;
    }

    private static TelemetryRecord Report(long sequence) =>
        new(sequence, Epoch.AddSeconds(sequence), "sensor-anomaly", "1", null, 100, 98, 1, 1, 1.2, 3.4, 5.6, 12.5, 100_000_000, 2.5);

    private sealed record Device(string Id, IMqttClient Client);
}
