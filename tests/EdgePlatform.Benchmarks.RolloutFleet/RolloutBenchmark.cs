using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using EdgePlatform.Cli;
using EdgePlatform.Cli.Commands;
using EdgePlatform.Cli.Processes;
using EdgePlatform.Contracts;
using EdgePlatform.FleetSim;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgePlatform.Benchmarks.RolloutFleet;

/// <summary>
/// Starts the real control plane (embedded broker and registry, SQLite) as its own process,
/// trains and publishes a model of about 5 MB, then for each fleet size starts that many
/// simulated devices and rolls the model out to them in three stages. It reports each stage's
/// wall time, the server's CPU and memory from /proc, and the registry's bytes served (from
/// /metrics) against devices times package size, which must be equal: every digest once per device.
/// </summary>
internal static partial class RolloutBenchmark
{
    public static async Task<int> RunAsync(BenchmarkSettings settings, CancellationToken cancellationToken)
    {
        var root = Directory.CreateTempSubdirectory("edgeplatform-rollout-bench-").FullName;
        var processes = new ProcessGroup();
        var rows = new List<string>();
        var exact = true;
        try
        {
            var (server, api) = await StartServerAsync(processes, root, settings, cancellationToken).ConfigureAwait(false);
            using (api)
            {
                Console.WriteLine($"server pid {server.Id}; {Environment.ProcessorCount} CPU cores on this machine, shared by the server and the simulated devices; load average {ProcStats.LoadAverage()}");
                var clock = Stopwatch.StartNew();
                var run = await FleetCommands.TrainAndWaitAsync(
                    api, new TrainingRequest(null, "rollout-bench", null, 42, settings.Trees, settings.Leaves, 0.01), null, cancellationToken).ConfigureAwait(false);
                var model = await api.GetModelAsync($"{run.ModelName}:{run.ModelVersion}", cancellationToken).ConfigureAwait(false);
                var manifest = JsonSerializer.Deserialize(await api.GetManifestAsync(model.Repository, model.ManifestDigest, cancellationToken).ConfigureAwait(false), ContractsJsonContext.Default.OciManifest)!;
                var package = model.ManifestSize + manifest.Config.Size + model.OnnxSize;
                Console.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"model {model.Name}:{model.Version} trained in {clock.Elapsed.TotalSeconds:0} s ({settings.Trees} trees of {settings.Leaves} leaves): package a device pulls = manifest {model.ManifestSize} + card {manifest.Config.Size} + model.onnx {model.OnnxSize} = {package} bytes ({package / 1048576.0:0.00} MiB)"));

                foreach (var devices in settings.Fleets)
                {
                    var result = await RolloutAsync(server, api, model, package, devices, settings, cancellationToken).ConfigureAwait(false);
                    rows.Add(result.Row);
                    exact &= result.Exact;
                }
            }

            Console.WriteLine();
            Console.WriteLine("| devices | start-up (enroll, attest, mTLS) | create call | stage 1: 10% | stage 2: 50% | stage 3: 100% | rollout | server CPU | server RSS peak | registry bytes served | devices × package | repeated downloads |");
            Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            rows.ForEach(Console.WriteLine);
            Console.WriteLine();
            Console.WriteLine("stage columns: devices in the stage, then from the stage opening until its last device reported the version active (the bake follows)");
            return exact ? 0 : 1;
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

    private static async Task<(string Row, bool Exact)> RolloutAsync(
        HostProcess server, ApiClient api, ModelInfo model, long package, int devices, BenchmarkSettings settings, CancellationToken cancellationToken)
    {
        var name = string.Create(CultureInfo.InvariantCulture, $"b{devices}");
        var options = new SimulatorOptions
        {
            ControlPlane = api.Server,
            EnrollmentKey = (await File.ReadAllTextAsync(EnrollmentKeyFile!, cancellationToken).ConfigureAwait(false)).Trim(),
            Devices = devices,
            IdPrefix = name,
            StartConcurrency = 32,
            DownloadConcurrency = settings.DownloadConcurrency,
            TelemetryIntervalSeconds = settings.TelemetryIntervalSeconds,
            LateAfterSeconds = null,
        };
        options.Tags["fleet"] = name;

        var cpuBefore = ProcStats.CpuSeconds(server.Id);
        var clock = Stopwatch.StartNew();
        var fleet = new FleetSimulator(options, TimeProvider.System, NullLogger.Instance);
        await using (fleet.ConfigureAwait(false))
        {
            var progress = ReportStartAsync(fleet, devices, cancellationToken);
            await fleet.StartAsync(cancellationToken).ConfigureAwait(false);
            var startup = clock.Elapsed;
            var startupCpu = ProcStats.CpuSeconds(server.Id) - cpuBefore;
            await progress.ConfigureAwait(false);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{devices} devices enrolled, attested and connected in {startup.TotalSeconds:0.0} s (server CPU {startupCpu:0.0} s, RSS {ProcStats.ResidentBytes(server.Id) / 1048576.0:0} MiB)"));

            var servedBefore = await RegistryBytesServedAsync(api, cancellationToken).ConfigureAwait(false);
            var cpuRollout = ProcStats.CpuSeconds(server.Id);
            var rssPeak = ProcStats.ResidentBytes(server.Id);
            clock.Restart();

            // Creating a rollout publishes its first stage before the call returns: at 10,000
            // devices that outlasts edgectl's 30 s timeout, so this client waits longer and says how long.
            using var patient = new HttpClient { BaseAddress = api.Server, Timeout = TimeSpan.FromMinutes(10) };
            patient.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Token);
            using var created = await patient.PostAsJsonAsync(
                "api/v1/rollouts",
                new CreateRolloutRequest(
                    $"{model.Name}:{model.Version}",
                    $"fleet={name}",
                    null,
                    [new(10, null, settings.BakeSeconds), new(50, null, settings.BakeSeconds), new(100, null, 0)],
                    new RolloutGates(MaxFailurePercent: 5, MinDevices: 10)),
                ContractsJsonContext.Default.CreateRolloutRequest,
                cancellationToken).ConfigureAwait(false);
            created.EnsureSuccessStatusCode();
            var rollout = (await created.Content.ReadFromJsonAsync(ContractsJsonContext.Default.RolloutInfo, cancellationToken).ConfigureAwait(false))!;
            var createSeconds = clock.Elapsed.TotalSeconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  rollout {rollout.Id} created in {createSeconds:0.0} s (stage 1 published within the call)"));
            var opened = new Dictionary<int, DateTimeOffset> { [0] = rollout.StageStartedAt };
            var lastLine = TimeSpan.Zero;
            while (rollout.State == RolloutStates.Running || fleet.Devices.Any(d => d.Active?.ManifestDigest != model.ManifestDigest))
            {
                await Task.Delay(500, cancellationToken).ConfigureAwait(false);
                rollout = (await patient.GetFromJsonAsync($"api/v1/rollouts/{rollout.Id}?limit=1", ContractsJsonContext.Default.RolloutDetail, cancellationToken).ConfigureAwait(false))!.Rollout;
                opened.TryAdd(rollout.CurrentStage, rollout.StageStartedAt);
                rssPeak = Math.Max(rssPeak, ProcStats.ResidentBytes(server.Id));
                if (rollout.State is not (RolloutStates.Running or RolloutStates.Completed))
                {
                    throw new InvalidOperationException($"the rollout ended {rollout.State}: {rollout.Reason}");
                }

                if (clock.Elapsed - lastLine > TimeSpan.FromSeconds(10))
                {
                    lastLine = clock.Elapsed;
                    var counters = fleet.Counters;
                    Console.WriteLine(string.Create(
                        CultureInfo.InvariantCulture,
                        $"  [{clock.Elapsed.TotalSeconds,6:0.0}s] stage {rollout.CurrentStage + 1}, {rollout.State}: {rollout.Counts?.GetValueOrDefault(RolloutDeviceStates.Active) ?? 0} active, {counters.Installing} installing, {fleet.Record.BytesDownloaded / 1048576.0:0} MiB pulled"));
                }
            }

            var elapsed = clock.Elapsed;
            var cpu = ProcStats.CpuSeconds(server.Id) - cpuRollout;

            // The exporter caches a scrape briefly; the pulls are over, so the count has settled.
            await Task.Delay(1500, cancellationToken).ConfigureAwait(false);
            var served = await RegistryBytesServedAsync(api, cancellationToken).ConfigureAwait(false) - servedBefore;
            var expected = (long)devices * package;
            var repeated = fleet.Record.RepeatedDownloads().Count;
            var rolloutDevices = await ReadDevicesAsync(patient, rollout.Id, cancellationToken).ConfigureAwait(false);
            var stages = new StringBuilder();
            for (var stage = 0; stage < 3; stage++)
            {
                var entries = rolloutDevices.Where(d => d.Stage == stage).ToList();
                var lastActive = entries.Count == 0 ? opened[stage] : entries.Max(e => e.Since);
                stages.Append(string.Create(CultureInfo.InvariantCulture, $" {entries.Count} devices, {(lastActive - opened[stage]).TotalSeconds:0.0} s |"));
            }

            var row = string.Create(
                CultureInfo.InvariantCulture,
                $"| {devices:N0} | {startup.TotalSeconds:0.0} s | {createSeconds:0.0} s |{stages} {elapsed.TotalSeconds:0.0} s | {cpu:0.0} s ({cpu / elapsed.TotalSeconds * 100:0}% of a core) | {rssPeak / 1048576.0:0} MiB | {served:N0} | {expected:N0} | {repeated} |");
            Console.WriteLine(row);
            Console.WriteLine(served == expected
                ? "registry bytes served = devices × package size: every digest went to every device exactly once"
                : string.Create(CultureInfo.InvariantCulture, $"registry bytes served differ from devices × package size by {served - expected:N0}"));
            return (row, served == expected && repeated == 0);
        }
    }

    private static async Task ReportStartAsync(FleetSimulator fleet, int devices, CancellationToken cancellationToken)
    {
        while (fleet.Counters.Connected < devices)
        {
            await Task.Delay(5000, cancellationToken).ConfigureAwait(false);
            var counters = fleet.Counters;
            Console.WriteLine($"  enrolled {counters.Enrolled}/{devices}, attested {counters.Attestations}, connected {counters.Connected}");
        }
    }

    private static string? EnrollmentKeyFile { get; set; }

    private static string? Token { get; set; }

    private static async Task<(HostProcess Server, ApiClient Api)> StartServerAsync(ProcessGroup processes, string root, BenchmarkSettings settings, CancellationToken cancellationToken)
    {
        var data = Path.Combine(root, "server");
        var tokenFile = Path.Combine(root, "admin.token");
        var server = processes.Start(
            "server",
            HostProcess.ServerAssembly,
            [
                $"--Server:DataDirectory={data}", "--Server:HttpPort=0", "--Server:MqttPort=0", $"--Server:InitialAdminTokenFile={tokenFile}",
                "--Logging:LogLevel:Default=Warning", "--Rollouts:TickSeconds=1",
                string.Create(CultureInfo.InvariantCulture, $"--Enrollment:TelemetryIntervalSeconds={settings.TelemetryIntervalSeconds}"),
                $"--Attestation:AllowedAgentBuilds:*:0={FleetSimulator.MeasureBuild()}",
            ],
            Path.Combine(root, "server.log"));
        var endpointsFile = Path.Combine(data, ServerEndpoints.FileName);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (!File.Exists(endpointsFile) || !File.Exists(tokenFile))
        {
            if (server.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"the server did not start:\n{server.LogTail(40)}");
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }

        var endpoints = JsonSerializer.Deserialize(await File.ReadAllBytesAsync(endpointsFile, cancellationToken).ConfigureAwait(false), ContractsJsonContext.Default.ServerEndpoints)!;

        EnrollmentKeyFile = endpoints.EnrollmentKeyFile;
        Token = (await File.ReadAllTextAsync(tokenFile, cancellationToken).ConfigureAwait(false)).Trim();
        return (server, new ApiClient(new Uri(endpoints.HttpUrl), Token));
    }

    /// <summary>Manifest and blob bytes the registry has sent, from its counter in /metrics.</summary>
    private static async Task<long> RegistryBytesServedAsync(ApiClient api, CancellationToken cancellationToken)
    {
        var metrics = Encoding.UTF8.GetString(await api.GetBytesAsync("metrics", cancellationToken).ConfigureAwait(false));
        return ServedBytes().Matches(metrics).Sum(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
    }


    [GeneratedRegex(@"^edgeplatform_registry_served_bytes_total\{[^}]*\} (\d+)", RegexOptions.Multiline)]
    private static partial Regex ServedBytes();

    /// <summary>Every device of the rollout, page by page, as an operator's tools read them.</summary>
    private static async Task<List<RolloutDevice>> ReadDevicesAsync(HttpClient http, string rolloutId, CancellationToken cancellationToken)
    {
        var devices = new List<RolloutDevice>();
        string? after = null;
        do
        {
            var query = after is null ? "limit=1000" : $"limit=1000&after={Uri.EscapeDataString(after)}";
            var page = (await http.GetFromJsonAsync($"api/v1/rollouts/{rolloutId}?{query}", ContractsJsonContext.Default.RolloutDetail, cancellationToken).ConfigureAwait(false))!;
            devices.AddRange(page.Devices);
            after = page.NextAfter;
        }
        while (after is not null);

        return devices;
    }
}
