using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using EdgePlatform.Cli;
using EdgePlatform.Cli.Processes;
using EdgePlatform.Contracts;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgePlatform.Benchmarks.Telemetry;

/// <summary>
/// Starts the real control plane (embedded broker, SQLite store) as its own process, enrolls and
/// connects simulated devices, and measures ingest in two phases at the same report rate: the
/// baseline sends one report per message, as a device does in steady state; the second sends ten
/// per message, as a device draining its spool does. Then it opens idle connections and reads the
/// server's resident memory. Every figure comes from the server process (/proc) and its API.
/// </summary>
internal static class IngestBenchmark
{
    private const int Parallelism = 32;

    public static async Task<int> RunAsync(BenchmarkSettings settings, CancellationToken cancellationToken)
    {
        var root = Directory.CreateTempSubdirectory("edgeplatform-bench-").FullName;
        var processes = new ProcessGroup();
        try
        {
            var (server, http, api) = await StartServerAsync(processes, root, cancellationToken).ConfigureAwait(false);
            using (http)
            using (api)
            {
                Console.WriteLine($"server pid {server.Id}, {Environment.ProcessorCount} CPU cores on this machine (shared with the simulated devices)");
                var enrollments = await EnrollAsync(http, root, "bench", settings.Devices, cancellationToken).ConfigureAwait(false);
                var clients = await ConnectAsync(enrollments, cancellationToken).ConfigureAwait(false);
                Console.WriteLine($"{clients.Count} devices enrolled and connected");

                var baseline = await MeasureAsync("baseline: 1 report/message", api, server, clients, settings, reportsPerMessage: 1, firstSequence: 1, cancellationToken).ConfigureAwait(false);
                var batched = await MeasureAsync("drain: 10 reports/message", api, server, clients, settings, reportsPerMessage: 10, firstSequence: 1_000_000, cancellationToken).ConfigureAwait(false);
                Console.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"ratio drain/baseline: {batched.ReportsPerSecond / baseline.ReportsPerSecond:0.00}x reports/s, {batched.CpuPerThousandReports / baseline.CpuPerThousandReports:0.00}x CPU per report"));

                var rssBefore = ResidentBytes(server.Id);
                var idleCount = Math.Max(0, settings.IdleConnections - clients.Count);
                var idle = await ConnectAsync(await EnrollAsync(http, root, "idle", idleCount, cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
                await Task.Delay(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
                var rssAfter = ResidentBytes(server.Id);
                var total = clients.Count + idle.Count;
                Console.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"idle connections: {total} open, server RSS {rssAfter / 1048576.0:0} MiB (was {rssBefore / 1048576.0:0} MiB with {clients.Count}); {(rssAfter - rssBefore) / 1024.0 / Math.Max(1, idle.Count):0.0} KiB per added connection"));

                foreach (var client in clients.Concat(idle))
                {
                    client.Client.Dispose();
                }
            }

            return 0;
        }
        finally
        {
            await processes.DisposeAsync().ConfigureAwait(false);
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

    private sealed record PhaseResult(double ReportsPerSecond, double CpuPerThousandReports);

    private static async Task<PhaseResult> MeasureAsync(
        string name,
        ApiClient api,
        HostProcess server,
        IReadOnlyList<(string DeviceId, IMqttClient Client)> clients,
        BenchmarkSettings settings,
        int reportsPerMessage,
        long firstSequence,
        CancellationToken cancellationToken)
    {
        var acceptedBefore = (await api.GetTelemetryIngestAsync(cancellationToken).ConfigureAwait(false)).Accepted;
        var cpuBefore = CpuSeconds(server.Id);
        var clock = Stopwatch.StartNew();
        var end = TimeSpan.FromSeconds(settings.Seconds);
        var period = TimeSpan.FromSeconds(reportsPerMessage / settings.MessagesPerDeviceSecond);
        long published = 0;
        long failed = 0;

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
                            .WithTopic(Topics.Telemetry(device.DeviceId, TelemetryKinds.Health))
                            .WithPayload(TelemetryArrow.Serialize(device.DeviceId, records))
                            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                            .Build(),
                        ct).ConfigureAwait(false);
                    Interlocked.Add(ref result.IsSuccess ? ref published : ref failed, reportsPerMessage);
                    await timer.WaitForNextTickAsync(ct).ConfigureAwait(false);
                }
            }).ConfigureAwait(false);
        var publishedFor = clock.Elapsed;

        // The broker acknowledges before the control plane has stored a report: wait for the tail.
        long accepted;
        var lastProgress = clock.Elapsed;
        var lastAccepted = -1L;
        while (true)
        {
            accepted = (await api.GetTelemetryIngestAsync(cancellationToken).ConfigureAwait(false)).Accepted - acceptedBefore;
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

        var elapsed = lastProgress.TotalSeconds;
        var cpu = CpuSeconds(server.Id) - cpuBefore;
        var rate = accepted / elapsed;
        var result = new PhaseResult(rate, cpu / (accepted / 1000.0));
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{name}: offered {published / publishedFor.TotalSeconds:0} reports/s for {publishedFor.TotalSeconds:0.0} s; ingested {accepted} of {published} published ({failed} refused) in {elapsed:0.0} s = {rate:0} reports/s; control-plane CPU {cpu / elapsed * 100:0}% of one core ({result.CpuPerThousandReports * 1000:0.00} ms per 1,000 reports)"));
        return result;
    }

    private static async Task<(HostProcess Server, HttpClient Http, ApiClient Api)> StartServerAsync(ProcessGroup processes, string root, CancellationToken cancellationToken)
    {
        var data = Path.Combine(root, "server");
        var tokenFile = Path.Combine(root, "admin.token");
        var server = processes.Start(
            "server",
            HostProcess.ServerAssembly,
            [
                $"--Server:DataDirectory={data}", "--Server:HttpPort=0", "--Server:MqttPort=0", $"--Server:InitialAdminTokenFile={tokenFile}",
                "--Logging:LogLevel:Default=Warning",
            ],
            Path.Combine(root, "server.log"));
        var endpointsFile = Path.Combine(data, ServerEndpoints.FileName);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!File.Exists(endpointsFile) || !File.Exists(tokenFile))
        {
            if (server.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"the server did not start:\n{server.LogTail(40)}");
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }

        var endpoints = JsonSerializer.Deserialize(await File.ReadAllBytesAsync(endpointsFile, cancellationToken).ConfigureAwait(false), ContractsJsonContext.Default.ServerEndpoints)!;
        var token = (await File.ReadAllTextAsync(tokenFile, cancellationToken).ConfigureAwait(false)).Trim();
        var http = new HttpClient { BaseAddress = new Uri(endpoints.HttpUrl) };
        File.WriteAllText(Path.Combine(root, "enrollment.key.path"), endpoints.EnrollmentKeyFile);
        return (server, http, new ApiClient(new Uri(endpoints.HttpUrl), token));
    }

    /// <summary>Enrolls simulated devices as real ones do: a key each, a CSR, a certificate back for mTLS.</summary>
    private static async Task<IReadOnlyList<(EnrollmentResponse Enrollment, X509Certificate2 Certificate)>> EnrollAsync(HttpClient http, string root, string prefix, int count, CancellationToken cancellationToken)
    {
        var keyFile = await File.ReadAllTextAsync(Path.Combine(root, "enrollment.key.path"), cancellationToken).ConfigureAwait(false);
        var key = (await File.ReadAllTextAsync(keyFile, cancellationToken).ConfigureAwait(false)).Trim();
        var enrollments = new (EnrollmentResponse, X509Certificate2)[count];
        await Parallel.ForEachAsync(
            Enumerable.Range(0, count),
            new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                var deviceId = $"{prefix}-{i:D5}";
                using var deviceKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                var csr = new CertificateRequest($"CN={deviceId}", deviceKey, HashAlgorithmName.SHA256).CreateSigningRequestPem();
                using var response = await http.PostAsJsonAsync(
                    "api/v1/enrollments/devices",
                    new EnrollmentRequest(deviceId, key, null, csr),
                    ContractsJsonContext.Default.EnrollmentRequest,
                    ct).ConfigureAwait(false);
                response.EnsureSuccessStatusCode();
                var enrollment = (await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.EnrollmentResponse, ct).ConfigureAwait(false))!;
                using var issued = X509Certificate2.CreateFromPem(enrollment.Certificate);
                enrollments[i] = (enrollment, issued.CopyWithPrivateKey(deviceKey));
            }).ConfigureAwait(false);
        return enrollments;
    }

    private static async Task<IReadOnlyList<(string DeviceId, IMqttClient Client)>> ConnectAsync(IReadOnlyList<(EnrollmentResponse Enrollment, X509Certificate2 Certificate)> enrollments, CancellationToken cancellationToken)
    {
        var factory = new MqttClientFactory();
        var clients = new (string, IMqttClient)[enrollments.Count];
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
                clients[i] = (enrollment.DeviceId, client);
            }).ConfigureAwait(false);
        return clients;
    }

    private static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static TelemetryRecord Report(long sequence) =>
        new(sequence, Epoch.AddSeconds(sequence), "sensor-anomaly", "1", null, 100, 98, 1, 1, 1.2, 3.4, 5.6, 12.5, 100_000_000, 2.5);

    private static double CpuSeconds(int pid)
    {
        // Fields 14 and 15 of /proc/PID/stat (after the parenthesised name): user and system time in clock ticks.
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        const double TicksPerSecond = 100;
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
    }

    private static long ResidentBytes(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }
}
