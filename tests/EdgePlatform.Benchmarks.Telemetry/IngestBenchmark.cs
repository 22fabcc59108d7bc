using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EdgePlatform.Cli.Processes;
using EdgePlatform.Contracts;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgePlatform.Benchmarks.Telemetry;

/// <summary>
/// Starts the real control plane (SQLite store) as its own process, enrolls and connects
/// simulated devices, and measures ingest at the same offered report rate one report per message
/// (a device in steady state; the baseline every ratio is against) and ten per message (a device
/// draining its spool): first through the embedded broker, then through mosquitto configured by
/// the control plane (<c>--Broker:Mode=external</c>). With the embedded broker it also opens idle
/// connections and reads the server's resident memory. Every figure comes from the processes
/// (/proc) and the server's API; counts are checked per device, so a lost or doubled report shows.
/// </summary>
internal static class IngestBenchmark
{
    private const int Parallelism = 32;
    // Reports are stamped from the start of the run: rollups of minutes past retention would be pruned under the benchmark.
    private static readonly DateTimeOffset Epoch = DateTimeOffset.UtcNow;

    public static async Task<int> RunAsync(BenchmarkSettings settings, CancellationToken cancellationToken)
    {
        var root = Directory.CreateTempSubdirectory("edgeplatform-bench-").FullName;
        await using var processes = new ProcessGroup();
        var results = new List<PhaseResult>();
        var exact = true;
        try
        {
            Console.WriteLine($"{Environment.ProcessorCount} CPU cores on this machine, shared by the server, the broker and the simulated devices; load average {ProcStats.LoadAverage()}");
            await using (var embedded = await ServerUnderTest.StartAsync(processes, Path.Combine(root, "embedded"), mosquittoPort: null, cancellationToken).ConfigureAwait(false))
            {
                var clients = await ConnectDevicesAsync(embedded, "bench", settings.Devices, cancellationToken).ConfigureAwait(false);
                results.Add(await MeasureAsync("embedded broker, 1 report/message", embedded, clients, settings, 1, 1, cancellationToken).ConfigureAwait(false));
                results.Add(await MeasureAsync("embedded broker, 10 reports/message", embedded, clients, settings, 10, 1_000_000, cancellationToken).ConfigureAwait(false));
                exact &= await CheckCountsAsync(embedded, clients, results[^2..], cancellationToken).ConfigureAwait(false);
                await MeasureIdleConnectionsAsync(embedded, clients, settings, cancellationToken).ConfigureAwait(false);
            }

            if (settings.Mosquitto)
            {
                await using var external = await ServerUnderTest.StartAsync(processes, Path.Combine(root, "mosquitto"), FreePort(), cancellationToken).ConfigureAwait(false);
                var clients = await ConnectDevicesAsync(external, "bench", settings.Devices, cancellationToken).ConfigureAwait(false);
                results.Add(await MeasureAsync("mosquitto, 1 report/message", external, clients, settings, 1, 1, cancellationToken).ConfigureAwait(false));
                results.Add(await MeasureAsync("mosquitto, 10 reports/message", external, clients, settings, 10, 1_000_000, cancellationToken).ConfigureAwait(false));
                exact &= await CheckCountsAsync(external, clients, results[^2..], cancellationToken).ConfigureAwait(false);
                Dispose(clients);
            }

            PrintTable(results);
            Console.WriteLine(exact ? "every published report stored exactly once (checked per device through the API)" : "COUNTS DIFFER: see above");
            return exact ? 0 : 1;
        }
        finally
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
                // Logs of a process still exiting; the folder is under the system temp directory.
            }
        }
    }

    private sealed record PhaseResult(
        string Name,
        long Published,
        long Ingested,
        double OfferedPerSecond,
        double Seconds,
        double ServerCpuSeconds,
        double? BrokerCpuSeconds,
        double MessagesPerTransaction)
    {
        public double ReportsPerSecond => Ingested / Seconds;

        public double CpuMsPerThousand => ServerCpuSeconds / (Ingested / 1000.0) * 1000;
    }

    private static async Task<PhaseResult> MeasureAsync(
        string name,
        ServerUnderTest server,
        IReadOnlyList<Device> clients,
        BenchmarkSettings settings,
        int reportsPerMessage,
        long firstSequence,
        CancellationToken cancellationToken)
    {
        var before = await server.Api.GetTelemetryIngestAsync(cancellationToken).ConfigureAwait(false);
        var batchesBefore = await server.IngestBatchesAsync(cancellationToken).ConfigureAwait(false);
        var cpuBefore = ProcStats.CpuSeconds(server.Process.Id);
        var brokerBefore = server.Mosquitto is { } m ? ProcStats.CpuSeconds(m.Id) : 0;
        var clock = Stopwatch.StartNew();
        var end = TimeSpan.FromSeconds(settings.Seconds);
        var period = TimeSpan.FromSeconds(reportsPerMessage / settings.ReportsPerDeviceSecond);
        long published = 0;

        await Parallel.ForEachAsync(
            clients,
            new ParallelOptions { MaxDegreeOfParallelism = clients.Count, CancellationToken = cancellationToken },
            async (device, ct) =>
            {
                // Spread the devices' first publishes over one period, as real devices are.
                await Task.Delay(TimeSpan.FromTicks(Random.Shared.NextInt64(period.Ticks)), ct).ConfigureAwait(false);
                using var timer = new PeriodicTimer(period);
                var sequence = firstSequence;
                while (clock.Elapsed < end)
                {
                    var records = Enumerable.Range(0, reportsPerMessage).Select(_ => Report(sequence++)).ToList();
                    var result = await device.Client.PublishAsync(
                        new MqttApplicationMessageBuilder()
                            .WithTopic(Topics.Telemetry(device.Id, TelemetryKinds.Health))
                            .WithPayload(TelemetryArrow.Serialize(device.Id, records))
                            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                            .Build(),
                        ct).ConfigureAwait(false);
                    if (!result.IsSuccess)
                    {
                        throw new InvalidOperationException($"the broker refused a publish of {device.Id}: {result.ReasonCode}");
                    }

                    device.Published += reportsPerMessage;
                    Interlocked.Add(ref published, reportsPerMessage);
                    await timer.WaitForNextTickAsync(ct).ConfigureAwait(false);
                }
            }).ConfigureAwait(false);
        var publishedFor = clock.Elapsed;

        // The broker acknowledges devices before the control plane has stored their reports: wait for the tail.
        long accepted;
        var lastProgress = clock.Elapsed;
        var lastAccepted = -1L;
        while (true)
        {
            accepted = (await server.Api.GetTelemetryIngestAsync(cancellationToken).ConfigureAwait(false)).Accepted - before.Accepted;
            if (accepted != lastAccepted)
            {
                lastAccepted = accepted;
                lastProgress = clock.Elapsed;
            }

            if (accepted >= published || clock.Elapsed - lastProgress > TimeSpan.FromSeconds(5))
            {
                break;
            }

            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }

        var batches = await server.IngestBatchesAsync(cancellationToken).ConfigureAwait(false);
        var result = new PhaseResult(
            name,
            published,
            accepted,
            published / publishedFor.TotalSeconds,
            lastProgress.TotalSeconds,
            ProcStats.CpuSeconds(server.Process.Id) - cpuBefore,
            server.Mosquitto is { } broker ? ProcStats.CpuSeconds(broker.Id) - brokerBefore : null,
            (batches.Messages - batchesBefore.Messages) / Math.Max(1.0, batches.Transactions - batchesBefore.Transactions));
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{name}: offered {result.OfferedPerSecond:0} reports/s for {publishedFor.TotalSeconds:0.0} s; stored {accepted} of {published} in {result.Seconds:0.0} s = {result.ReportsPerSecond:0} reports/s; control-plane CPU {result.ServerCpuSeconds / result.Seconds * 100:0}% of one core ({result.CpuMsPerThousand:0} ms per 1,000 reports){(result.BrokerCpuSeconds is { } b ? $", mosquitto CPU {b / result.Seconds * 100:0}%" : "")}; {result.MessagesPerTransaction:0.0} messages per transaction; load average {ProcStats.LoadAverage()}"));
        return result;
    }

    /// <summary>Every report each device published is stored once: per-device report counts from the API, and no replay or refusal.</summary>
    private static async Task<bool> CheckCountsAsync(ServerUnderTest server, IReadOnlyList<Device> clients, IReadOnlyList<PhaseResult> phases, CancellationToken cancellationToken)
    {
        var summaries = (await server.Api.GetTelemetryAsync(null, cancellationToken).ConfigureAwait(false)).ToDictionary(s => s.DeviceId, StringComparer.Ordinal);
        var ingest = await server.Api.GetTelemetryIngestAsync(cancellationToken).ConfigureAwait(false);
        var wrong = clients.Where(d => (summaries.TryGetValue(d.Id, out var s) ? s.Reports : 0) != d.Published).ToList();
        var published = clients.Sum(d => d.Published);
        var stored = summaries.Values.Sum(s => s.Reports);
        Console.WriteLine(
            $"counts: {published} reports published, {stored} stored, {ingest.Replayed} replayed, {ingest.Rejected} refused, {wrong.Count} device(s) whose stored count differs from what they published");
        return wrong.Count == 0 && ingest.Replayed == 0 && ingest.Rejected == 0 && phases.All(p => p.Ingested == p.Published);
    }

    private static async Task MeasureIdleConnectionsAsync(ServerUnderTest server, IReadOnlyList<Device> clients, BenchmarkSettings settings, CancellationToken cancellationToken)
    {
        var rssBefore = ProcStats.ResidentBytes(server.Process.Id);
        var idle = await ConnectDevicesAsync(server, "idle", Math.Max(0, settings.IdleConnections - clients.Count), cancellationToken).ConfigureAwait(false);
        await Task.Delay(TimeSpan.FromSeconds(settings.IdleSettleSeconds), cancellationToken).ConfigureAwait(false);
        var rssAfter = ProcStats.ResidentBytes(server.Process.Id);
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"idle connections: {clients.Count + idle.Count} open, server RSS {rssAfter / 1048576.0:0} MiB (was {rssBefore / 1048576.0:0} MiB with {clients.Count}); {(rssAfter - rssBefore) / 1024.0 / Math.Max(1, idle.Count):0.0} KiB per added connection"));
        Dispose(idle);
        Dispose(clients);
    }

    private static void PrintTable(IReadOnlyList<PhaseResult> results)
    {
        var baseline = results[0];
        Console.WriteLine();
        Console.WriteLine("| phase | offered reports/s | stored of published | stored reports/s | vs baseline | control-plane CPU | CPU per 1,000 reports | vs baseline | mosquitto CPU | messages per transaction |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"| {r.Name} | {r.OfferedPerSecond:N0} | {r.Ingested:N0} of {r.Published:N0} | **{r.ReportsPerSecond:N0}** | {r.ReportsPerSecond / baseline.ReportsPerSecond:0.00}x | {r.ServerCpuSeconds / r.Seconds * 100:0}% | {r.CpuMsPerThousand:0} ms | {r.CpuMsPerThousand / baseline.CpuMsPerThousand:0.00}x | {(r.BrokerCpuSeconds is { } b ? $"{b / r.Seconds * 100:0}%" : "—")} | {r.MessagesPerTransaction:0.0} |"));
        }
    }

    private static async Task<IReadOnlyList<Device>> ConnectDevicesAsync(ServerUnderTest server, string prefix, int count, CancellationToken cancellationToken)
    {
        var enrollments = await EnrollAsync(server, prefix, count, cancellationToken).ConfigureAwait(false);
        var devices = await ConnectAsync(enrollments, cancellationToken).ConfigureAwait(false);
        if (devices.Count > 0)
        {
            await server.WaitSubscribedAsync(devices[0], cancellationToken).ConfigureAwait(false);
        }

        Console.WriteLine($"{devices.Count} devices enrolled and connected ({(server.Mosquitto is null ? "embedded broker" : "mosquitto")})");
        return devices;
    }

    /// <summary>Enrolls simulated devices as real ones do: a key each, a CSR, a certificate back for mTLS.</summary>
    private static async Task<IReadOnlyList<(EnrollmentResponse Enrollment, X509Certificate2 Certificate)>> EnrollAsync(ServerUnderTest server, string prefix, int count, CancellationToken cancellationToken)
    {
        var enrollments = new (EnrollmentResponse, X509Certificate2)[count];
        await Parallel.ForEachAsync(
            Enumerable.Range(0, count),
            new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                var deviceId = $"{prefix}-{i:D5}";
                using var deviceKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                var csr = new CertificateRequest($"CN={deviceId}", deviceKey, HashAlgorithmName.SHA256).CreateSigningRequestPem();
                using var response = await server.Http.PostAsJsonAsync(
                    "api/v1/enrollments/devices",
                    new EnrollmentRequest(deviceId, EdgePlatform.Security.EnrollmentKeys.Derive(server.EnrollmentKey, deviceId), null, csr),
                    ContractsJsonContext.Default.EnrollmentRequest,
                    ct).ConfigureAwait(false);
                response.EnsureSuccessStatusCode();
                var enrollment = (await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.EnrollmentResponse, ct).ConfigureAwait(false))!;
                using var issued = X509Certificate2.CreateFromPem(enrollment.Certificate);
                enrollments[i] = (enrollment, issued.CopyWithPrivateKey(deviceKey));
            }).ConfigureAwait(false);
        return enrollments;
    }

    private static async Task<IReadOnlyList<Device>> ConnectAsync(IReadOnlyList<(EnrollmentResponse Enrollment, X509Certificate2 Certificate)> enrollments, CancellationToken cancellationToken)
    {
        var factory = new MqttClientFactory();
        var clients = new Device[enrollments.Count];
        await Parallel.ForEachAsync(
            Enumerable.Range(0, enrollments.Count),
            new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                var (enrollment, certificate) = enrollments[i];
                var ca = X509Certificate2.CreateFromPem(enrollment.CaCertificate);
                var client = factory.CreateMqttClient();
                await client.ConnectAsync(
                    new MqttClientOptionsBuilder()
                        .WithTcpServer(enrollment.MqttHost, enrollment.MqttPort)
                        .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
                        .WithClientId(enrollment.DeviceId)
                        .WithTlsOptions(new MqttClientTlsOptionsBuilder()
                            .UseTls()
                            .WithTargetHost(enrollment.MqttHost)
                            .WithClientCertificates([certificate])
                            .WithTrustChain([ca])
                            .Build())
                        .WithKeepAlivePeriod(TimeSpan.FromSeconds(60))
                        .WithTimeout(TimeSpan.FromSeconds(60))
                        .Build(),
                    ct).ConfigureAwait(false);
                clients[i] = new Device(enrollment.DeviceId, client);
            }).ConfigureAwait(false);
        return clients;
    }

    private static void Dispose(IReadOnlyList<Device> devices)
    {
        foreach (var device in devices)
        {
            device.Client.Dispose();
        }
    }

    private static TelemetryRecord Report(long sequence) =>
        new(sequence, Epoch.AddSeconds(sequence), "sensor-anomaly", "1", null, 100, 98, 1, 1, 1.2, 3.4, 5.6, 12.5, 100_000_000, 2.5);

    private static int FreePort()
    {
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A simulated device and what it has published so far (one publishing task per device at a time).</summary>
    internal sealed class Device(string id, IMqttClient client)
    {
        public string Id { get; } = id;

        public IMqttClient Client { get; } = client;

        public long Published { get; set; }
    }
}
