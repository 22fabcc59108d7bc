using System.CommandLine;
using EdgePlatform.Cli.Processes;
using EdgePlatform.Security.Attestation;

namespace EdgePlatform.Cli.Commands;

/// <summary>
/// <c>edgectl sim</c>: a fleet of simulated devices against a control plane, for rollouts at scale.
/// The fleet simulator hosts the agent's own core, so it lives beside the agent (it references
/// edge code, which edgectl never does) and runs as its own process, as the server and agents do:
/// this command optionally starts a server that allows the simulator's build, then starts the
/// simulator with every other option passed through, and returns its exit code.
/// </summary>
public static class SimCommand
{
    private static readonly string[] EnrollmentKeyOptions = ["--enrollment-key", "--enrollment-key-file"];

    public static Command Create()
    {
        var startServer = new Option<bool>("--start-server") { Description = "Start a control plane for the fleet that allows exactly this simulator's build" };
        var serverDataDir = new Option<string>("--server-data-dir") { Description = "With --start-server: its data directory (default: a new temporary directory)" };
        var serverSettings = new Option<string[]>("--server-setting") { Description = "With --start-server: Section:Key=value passed to the server, e.g. Rollouts:TickSeconds=1 (repeatable)", AllowMultipleArgumentsPerToken = true };
        var simulatorHelp = new Option<bool>("--simulator-help") { Description = "List the fleet's own options (devices, failures, telemetry, duration), which this command passes to the simulator" };
        var sim = new Command("sim", "Simulate a fleet of devices, each the agent's own core, against a control plane (enroll, attest, mTLS, signed pulls, telemetry); other options go to the simulator")
        {
            startServer, serverDataDir, serverSettings, simulatorHelp,
        };
        sim.TreatUnmatchedTokensAsErrors = false;
        sim.SetAction(async (parse, ct) =>
        {
            List<string> arguments = [.. parse.UnmatchedTokens];
            if (parse.GetValue(simulatorHelp))
            {
                arguments = ["--help"];
            }

            var start = parse.GetValue(startServer);
            if (!start && (parse.GetValue(serverDataDir) is not null || parse.GetValue(serverSettings) is { Length: > 0 }))
            {
                throw new CliException("--server-data-dir and --server-setting apply only with --start-server");
            }

            await using var group = new ProcessGroup();
            if (start)
            {
                var (url, enrollmentKey) = await StartServerAsync(group, parse.GetValue(serverDataDir), parse.GetValue(serverSettings) ?? [], ct).ConfigureAwait(false);
                arguments.AddRange(["--server", url.ToString()]);
                if (!arguments.Any(a => EnrollmentKeyOptions.Contains(a.Split('=')[0], StringComparer.Ordinal)))
                {
                    arguments.AddRange(["--enrollment-key", enrollmentKey]);
                }
            }
            else
            {
                arguments.AddRange(["--server", parse.GetValue(CliOptions.Server)!.ToString()]);
            }

            if (parse.IsJson())
            {
                arguments.AddRange(["--output", "json"]);
            }

            // Output passes straight through: progress, then the summary.
            var simulator = group.Start("fleet simulator", HostProcess.SimulatorAssembly, arguments, logPath: null);
            try
            {
                await simulator.WaitForExitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // The simulator saw the same Ctrl-C: let it stop its devices and print the summary.
                await simulator.StopAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false);
            }

            return simulator.ExitCode;
        });
        return sim;
    }

    /// <summary>A control plane for the fleet, allowing exactly the simulator's build measurement.</summary>
    private static async Task<(Uri Url, string EnrollmentKey)> StartServerAsync(ProcessGroup group, string? dataDirectory, IReadOnlyList<string> settings, CancellationToken ct)
    {
        var root = dataDirectory is { } given ? Path.GetFullPath(given) : Directory.CreateTempSubdirectory("edgeplatform-sim-").FullName;
        var tokenFile = LocalControlPlane.AdminTokenFile(root);
        var measurement = AgentMeasurements.MeasureBuild(Path.GetDirectoryName(HostProcess.SimulatorAssembly)!);
        List<string> arguments = [$"--Attestation:AllowedAgentBuilds:*:0={measurement}"];
        foreach (var setting in settings)
        {
            var equals = setting.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0 || equals == setting.Length - 1)
            {
                throw new CliException($"--server-setting '{setting}' is not Section:Key=value");
            }

            arguments.Add($"--{setting[..equals]}={setting[(equals + 1)..]}");
        }

        var (server, endpoints) = await LocalControlPlane.StartAsync(group, root, arguments, ct).ConfigureAwait(false);
        await Console.Error.WriteLineAsync(
            $"control plane up: API {endpoints.HttpUrl}, MQTT {endpoints.MqttHost}:{endpoints.MqttPort}; admin token in {tokenFile} " +
            $"(edgectl --server {endpoints.HttpUrl} --token $(cat {tokenFile}) rollout ...); log {server.LogPath}").ConfigureAwait(false);
        return (new Uri(endpoints.HttpUrl), (await File.ReadAllTextAsync(endpoints.EnrollmentKeyFile, ct).ConfigureAwait(false)).Trim());
    }
}
