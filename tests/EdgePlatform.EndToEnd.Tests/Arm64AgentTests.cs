using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using EdgePlatform.Cli.Processes;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Tests.Datasets;
using EdgePlatform.Security.Attestation;
using EdgePlatform.Training.Datasets;
using Xunit.Abstractions;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// The ARM64 release as a device runs it: deployment/scripts/build-release.sh publishes the agent
/// for linux-arm64, the tarball is unpacked as an operator unpacks it, the control plane allows the
/// release through its agent-builds.json, and the agent runs under qemu-user (Debian's
/// qemu-user-static, with the arm64 multiarch libraries for its loader, libc, libstdc++, ICU,
/// OpenSSL and zlib). Beside it an x86-64 agent scores the same events with the same model.
/// </summary>
[Trait("Category", "Integration")]
public sealed class Arm64AgentTests(ITestOutputHelper output)
{
    /// <summary>tests/run.sh announces the emulator (deployment/scripts/test-services.sh).</summary>
    public const string QemuVariable = "EDGEPLATFORM_TEST_QEMU_AARCH64";

    private const string X64Device = "e2e-x64";
    private const string Arm64Device = "e2e-arm64";

    // Everything the emulated agent does takes several times as long as natively: starting, enrolling,
    // attesting, and loading and warming the model, all while the rest of the suite shares the cores.
    private static readonly TimeSpan EmulatedTimeout = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task Arm64Release_UnderQemu_EnrollsAttestsInstallsAndScoresAsTheX64AgentDoes()
    {
        var qemu = TestServices.Require(QemuVariable, "qemu-aarch64-static (Debian qemu-user-static, with libc6:arm64 and the other arm64 libraries)");
        var total = Stopwatch.StartNew();
        var release = await Arm64Release.EnsureAsync(output);
        var root = Directory.CreateTempSubdirectory("edgeplatform-arm64-").FullName;
        var passed = false;
        var processes = new ProcessGroup();
        ServiceProcess? arm64 = null;
        try
        {
            // The operator's one step: the release's agent-builds.json into the directory the control plane reads.
            var allowed = Directory.CreateDirectory(Path.Combine(root, "agent-builds.d")).FullName;
            File.Copy(release.AgentBuildsFile, Path.Combine(allowed, "edgeplatform-agent-release.json"));
            var server = processes.Start(
                "server",
                HostProcess.ServerAssembly,
                [
                    $"--Server:DataDirectory={Path.Combine(root, "server")}", "--Server:HttpPort=0", "--Server:MqttPort=0", "--Enrollment:TelemetryIntervalSeconds=1",
                    $"--Server:InitialAdminTokenFile={Path.Combine(root, "admin.token")}",
                    $"--Attestation:TrustedAgentDirectory={Path.GetDirectoryName(HostProcess.AgentAssembly)}",
                    $"--Attestation:AllowedAgentBuildsDirectory={allowed}",
                ],
                Path.Combine(root, "server.log"));
            var endpoints = await Wait.ForFileAsync(Path.Combine(root, "server", ServerEndpoints.FileName), server, b => JsonSerializer.Deserialize(b, ContractsJsonContext.Default.ServerEndpoints));
            await Wait.UntilAsync(() => Task.FromResult(File.Exists(Path.Combine(root, "admin.token"))), "the initial admin token");
            using var api = new EdgePlatform.Cli.ApiClient(new Uri(endpoints.HttpUrl), (await File.ReadAllTextAsync(Path.Combine(root, "admin.token"))).Trim());

            var x64 = processes.Start(X64Device, HostProcess.AgentAssembly, AgentArguments(root, endpoints, X64Device), Path.Combine(root, $"{X64Device}.log"));
            var started = Stopwatch.StartNew();
            arm64 = ServiceProcess.Start(
                "unshare",
                ["--mount", "--", "bash", "-c", "mount --bind \"$1\" /proc/cpuinfo && shift && exec \"$@\"", "arm64-device", await EmulatedCpuInfoAsync(root), qemu, release.AgentExecutable, .. AgentArguments(root, endpoints, Arm64Device)],
                Path.Combine(root, $"{Arm64Device}.log"),
                EmulatedEnvironment);
            var arm64Announced = await AnnouncementAsync(root, Arm64Device, () => arm64.HasExited, EmulatedTimeout);
            var startSeconds = started.Elapsed.TotalSeconds;
            var x64Announced = await AnnouncementAsync(root, X64Device, () => x64.HasExited, Wait.Timeout);

            var attested = await WaitForDeviceAsync(api, root, Arm64Device, d => d.Attestation?.State == AttestationStates.Verified, "the arm64 agent to attest");
            Assert.Contains(attested.Attestation!.Measurements!, m => m.Kind == MeasurementKinds.AgentBuild && m.Digest == release.Measurement);
            await WaitForDeviceAsync(api, root, X64Device, d => d.Attestation?.State == AttestationStates.Verified, "the x64 agent to attest");

            var run = await EdgePlatform.Cli.Commands.FleetCommands.TrainAndWaitAsync(api, new TrainingRequest(null, null, null, 42), null, default);
            await api.DeployAsync(new CreateDeploymentRequest($"{run.ModelName}:{run.ModelVersion}", null, true), default);
            foreach (var deviceId in new[] { X64Device, Arm64Device })
            {
                await WaitForDeviceAsync(api, root, deviceId, d => PlatformFixture.IsActive(d, run.ManifestDigest!), $"{deviceId} to activate {run.ManifestDigest}");
            }

            await using var x64Bus = await LocalBus.ConnectAsync(X64Device, x64Announced.LocalBrokerPort);
            await using var arm64Bus = await LocalBus.ConnectAsync(Arm64Device, arm64Announced.LocalBrokerPort);
            var dataset = BuiltInDatasets.SensorAnomaly.Load();

            // Rows of both classes, so the label is compared on each side of the threshold.
            var rows = Enumerable.Range(0, dataset.RowCount).Where(dataset.GetLabel).Take(10)
                .Concat(Enumerable.Range(0, dataset.RowCount).Where(r => !dataset.GetLabel(r)).Take(10));
            var scoring = Stopwatch.StartNew();
            var compared = 0;
            foreach (var row in rows)
            {
                var id = $"row-{row}";
                var payload = WalkingSkeletonTests.EventJson(id, dataset.GetFeatures(row));
                var expected = await x64Bus.ScoreAsync(id, payload);
                var actual = await arm64Bus.ScoreAsync(id, payload);

                Assert.Equal(run.ModelVersion, actual.ModelVersion);
                Assert.Equal(expected.Label, actual.Label);
                AssertClose(expected.Probability!.Value, actual.Probability!.Value, $"probability of {id}");
                AssertClose(expected.Score!.Value, actual.Score!.Value, $"score of {id}");
                compared++;
            }

            output.WriteLine(
                $"arm64 agent under qemu: started in {startSeconds:0.0} s, {compared} events scored identically to the x64 agent in {scoring.Elapsed.TotalSeconds:0.0} s; whole test {total.Elapsed.TotalSeconds:0} s");
            passed = true;
        }
        finally
        {
            if (arm64 is not null)
            {
                await arm64.DisposeAsync();
            }

            await processes.DisposeAsync();
            if (passed)
            {
                Directory.Delete(root, recursive: true);
            }
            else
            {
                output.WriteLine($"logs kept in {root}");
            }
        }
    }

    /// <summary>
    /// What the emulated device is given, and why. QEMU_CPU: a Cortex-A72, the Raspberry Pi 4's core
    /// (ARMv8.0 with NEON), matching the /proc/cpuinfo it is shown; qemu's default model, "max", would
    /// announce SVE and SME, which no Pi has, to ONNX Runtime's kernel selection. W^X off: with it on
    /// (.NET's default) the runtime writes JIT-ed code through a second, writable mapping of the same
    /// memory; qemu-user notices code changing only through writes to the pages it translated, so it
    /// kept running stale translations and the agent died at start with "Illegal instruction" in a
    /// freshly JIT-ed stub. Tiered compilation stays on: its quick first tier is the cheapest JIT
    /// under emulation. A real ARM64 device runs with the defaults.
    /// </summary>
    private static readonly Dictionary<string, string> EmulatedEnvironment = new(StringComparer.Ordinal)
    {
        ["QEMU_CPU"] = "cortex-a72",
        ["DOTNET_EnableWriteXorExecute"] = "0",
        ["DOTNET_ENVIRONMENT"] = "Production",
        ["Logging__Console__FormatterName"] = "simple",
        ["Logging__Console__FormatterOptions__SingleLine"] = "true",
        ["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss.fff ",
    };

    /// <summary>
    /// An ARM64 /proc/cpuinfo (Cortex-A72 cores, one per processor of this machine), which the emulated
    /// agent sees in place of the host's through a bind mount in a mount namespace of its own. qemu 7.2
    /// passes the host's x86 /proc/cpuinfo through, ONNX Runtime's CPU detection (cpuinfo) finds no ARM
    /// processor in it, and the agent died with SIGSEGV creating its first inference session. Needs
    /// root (CAP_SYS_ADMIN), as the test machine and CI have.
    /// </summary>
    private static async Task<string> EmulatedCpuInfoAsync(string root)
    {
        var processors = File.ReadLines("/proc/cpuinfo").Count(l => l.StartsWith("processor", StringComparison.Ordinal));
        var path = Path.Combine(root, "cpuinfo-arm64");
        await File.WriteAllTextAsync(path, string.Concat(Enumerable.Range(0, Math.Max(1, processors)).Select(i =>
            $"processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n")));
        return path;
    }

    private static string[] AgentArguments(string root, ServerEndpoints endpoints, string deviceId) =>
    [
        $"--Agent:DataDirectory={Path.Combine(root, deviceId)}", $"--Agent:DeviceId={deviceId}", $"--Agent:ControlPlaneUrl={endpoints.HttpUrl}",
        $"--Agent:EnrollmentKey={PlatformFixture.DeviceKey(endpoints, deviceId)}", "--LocalBroker:Port=0", "--InferenceHttp:Port=0", "--Telemetry:IntervalSeconds=1",
    ];

    /// <summary>Equal within float rounding that grows with the value: ARM64's and x86-64's kernels may round the last bits differently.</summary>
    private static void AssertClose(double expected, double actual, string what)
    {
        var tolerance = 1e-5 * Math.Max(1.0, Math.Max(Math.Abs(expected), Math.Abs(actual)));
        Assert.True(Math.Abs(expected - actual) <= tolerance, $"{what}: x64 {expected:R}, arm64 {actual:R} (tolerance {tolerance:G3})");
    }

    private static async Task<AgentEndpoints> AnnouncementAsync(string root, string deviceId, Func<bool> exited, TimeSpan timeout)
    {
        var path = Path.Combine(root, deviceId, AgentEndpoints.FileName);
        AgentEndpoints? announced = null;
        await Wait.UntilAsync(
            async () =>
            {
                if (exited())
                {
                    throw new InvalidOperationException($"{deviceId} exited:\n{LogTail(root, deviceId)}");
                }

                announced = File.Exists(path) ? JsonSerializer.Deserialize(await File.ReadAllBytesAsync(path), ContractsJsonContext.Default.AgentEndpoints) : null;
                return announced is not null;
            },
            $"{deviceId} to start",
            timeout);
        return announced!;
    }

    private static async Task<DeviceInfo> WaitForDeviceAsync(EdgePlatform.Cli.ApiClient api, string root, string deviceId, Func<DeviceInfo, bool> condition, string what)
    {
        DeviceInfo? device = null;
        try
        {
            await Wait.UntilAsync(
                async () =>
                {
                    device = (await api.ListDevicesAsync(default)).Any(d => d.Id == deviceId) ? await api.GetDeviceAsync(deviceId, default) : null;
                    return device is not null && condition(device);
                },
                what,
                EmulatedTimeout);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}; {deviceId} {(device is null ? "never enrolled" : $"is {device.Status}")}; its log ends:\n{LogTail(root, deviceId)}", ex);
        }

        return device!;
    }

    private static string LogTail(string root, string deviceId)
    {
        var log = Path.Combine(root, $"{deviceId}.log");
        return File.Exists(log) ? string.Join('\n', File.ReadLines(log).TakeLast(30)) : "(no log)";
    }

    /// <summary>
    /// The linux-arm64 release, built by deployment/scripts/build-release.sh and unpacked once per
    /// source: it is kept under this project's output, keyed by the agent's own build and the script,
    /// so a rerun on unchanged sources takes none of the publish's minute or two.
    /// </summary>
    private sealed record Arm64Release(string AgentExecutable, string AgentBuildsFile, string Measurement)
    {
        private static readonly SemaphoreSlim Building = new(1, 1);

        public static async Task<Arm64Release> EnsureAsync(ITestOutputHelper output)
        {
            var repository = RepositoryRoot();
            var script = Path.Combine(repository, "deployment", "scripts", "build-release.sh");
            var key = Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(
                AgentMeasurements.MeasureBuild(Path.GetDirectoryName(HostProcess.AgentAssembly)!) + Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(script))))))[..16];
            // Beside the test output, not in it: simulated devices measure this directory, with
            // everything below it, for attestation while other tests run, and a release written
            // into it mid-run would change their measurement from the one the server allowed.
            var cache = Path.Combine(Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory))!, "arm64-release");
            var directory = Path.Combine(cache, key);
            var done = Path.Combine(directory, "unpacked");

            await Building.WaitAsync();
            try
            {
                if (!File.Exists(done))
                {
                    if (Directory.Exists(cache))
                    {
                        Directory.Delete(cache, recursive: true);
                    }

                    var publish = Stopwatch.StartNew();
                    // No build servers left behind: they would outlive the test holding its output pipes.
                    var (exitCode, log) = await RunAsync(
                        "bash",
                        [script, "--arch", "arm64", "--no-scorer-image", "--out", directory],
                        new Dictionary<string, string>
                        {
                            ["EDGECTL"] = $"dotnet exec {typeof(EdgePlatform.Cli.CliException).Assembly.Location}",
                            ["MSBUILDDISABLENODEREUSE"] = "1",
                            ["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0",
                            ["UseSharedCompilation"] = "false",
                        });
                    Assert.True(exitCode == 0, $"build-release.sh exited {exitCode}:\n{log}");
                    var tarball = Directory.EnumerateFiles(directory, "edgeplatform-agent-*-linux-arm64.tar.gz").Single();
                    var unpack = await RunAsync("tar", ["-xzf", tarball, "-C", directory], null);
                    Assert.True(unpack.ExitCode == 0, $"tar -xzf {tarball} exited {unpack.ExitCode}:\n{unpack.Output}");
                    output.WriteLine($"linux-arm64 release built and unpacked in {publish.Elapsed.TotalSeconds:0} s");

                    // The publish's intermediate files are several times the release's size and are not needed again.
                    Directory.Delete(Path.Combine(directory, ".build"), recursive: true);
                    await File.WriteAllTextAsync(done, tarball);
                }
            }
            finally
            {
                Building.Release();
            }

            var unpacked = Directory.EnumerateDirectories(directory, "edgeplatform-agent-*-linux-arm64").Single();
            var builds = Path.Combine(directory, "agent-builds.json");
            using var document = JsonDocument.Parse(await File.ReadAllBytesAsync(builds));
            var measurement = document.RootElement.GetProperty("builds").EnumerateArray()
                .Single(b => b.GetProperty("runtime").GetString() == "linux-arm64").GetProperty("agentBuild").GetString()!;
            return new Arm64Release(Path.Combine(unpacked, "EdgePlatform.Agent", "EdgePlatform.Agent"), builds, measurement);
        }

        private static string RepositoryRoot()
        {
            for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            {
                if (File.Exists(Path.Combine(directory.FullName, "EdgePlatform.sln")))
                {
                    return directory.FullName;
                }
            }

            throw new InvalidOperationException($"no EdgePlatform.sln above {AppContext.BaseDirectory}");
        }

        private static async Task<(int ExitCode, string Output)> RunAsync(string command, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment)
        {
            var info = new ProcessStartInfo(command) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in arguments)
            {
                info.ArgumentList.Add(argument);
            }

            foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            {
                info.Environment[name] = value;
            }

            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(15));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{command} {string.Join(' ', info.ArgumentList)} was still running after 15 minutes:\n{await stdout}{await stderr}");
            }

            return (process.ExitCode, await stdout + await stderr);
        }
    }
}
