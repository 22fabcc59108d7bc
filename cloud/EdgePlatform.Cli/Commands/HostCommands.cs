using System.CommandLine;
using EdgePlatform.Cli.Processes;

namespace EdgePlatform.Cli.Commands;

/// <summary><c>edgectl server</c> and <c>edgectl agent</c>: run a host in the foreground until Ctrl-C.</summary>
public static class HostCommands
{
    public static Command Server()
    {
        var dataDir = new Option<string>("--data-dir") { Description = "Data directory (default: ~/.local/share/edgeplatform/server)" };
        var httpPort = new Option<int?>("--http-port") { Description = "HTTP port (default 5080; 0 picks a free one)" };
        var mqttPort = new Option<int?>("--mqtt-port") { Description = "TLS port of the embedded MQTT broker (default 8883; 0 picks a free one)" };
        var server = new Command("server", "Run the control plane: API, OCI registry, MQTT broker, SQLite store") { dataDir, httpPort, mqttPort };
        server.TreatUnmatchedTokensAsErrors = false;
        server.SetAction(async (parse, ct) =>
        {
            var arguments = new List<string>();
            AddSetting(arguments, "Server:DataDirectory", parse.GetValue(dataDir) is { } dir ? Path.GetFullPath(dir) : null);
            AddSetting(arguments, "Server:HttpPort", parse.GetValue(httpPort)?.ToString(System.Globalization.CultureInfo.InvariantCulture));
            AddSetting(arguments, "Server:MqttPort", parse.GetValue(mqttPort)?.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (HostProcess.TryLocateAgentDirectory() is { } agentDirectory)
            {
                // The agent build installed beside edgectl is the one this server's devices run.
                AddSetting(arguments, "Attestation:TrustedAgentDirectory", agentDirectory);
            }

            arguments.AddRange(parse.UnmatchedTokens);
            return await RunForegroundAsync("server", HostProcess.ServerAssembly, arguments, ct).ConfigureAwait(false);
        });
        return server;
    }

    public static Command Agent()
    {
        var deviceId = new Option<string>("--device-id") { Description = "Device id to enroll as (not needed once enrolled)" };
        var keyFile = new Option<string>("--enrollment-key-file") { Description = "File holding the group enrollment key (the server's enrollment.key)" };
        var key = new Option<string>("--enrollment-key") { Description = "The group enrollment key" };
        var dataDir = new Option<string>("--data-dir") { Description = "Agent data directory (default: ~/.local/share/edgeplatform/agent)" };
        var localPort = new Option<int?>("--local-port") { Description = "Port of the local event broker (default 1884; 0 picks a free one)" };
        var httpPort = new Option<int?>("--http-port") { Description = "Port of the local v2 inference endpoint on 127.0.0.1 (default 8085; 0 picks a free one)" };
        var tags = new Option<string[]>("--tag") { Description = "Enrollment tag key=value (repeatable)", AllowMultipleArgumentsPerToken = true };
        var agent = new Command("agent", "Run an edge agent: enroll, pull signed models, score local events, send telemetry")
        {
            deviceId, keyFile, key, dataDir, localPort, httpPort, tags,
        };
        agent.TreatUnmatchedTokensAsErrors = false;
        agent.SetAction(async (parse, ct) =>
        {
            var arguments = new List<string>();
            AddSetting(arguments, "Agent:DeviceId", parse.GetValue(deviceId));
            AddSetting(arguments, "Agent:ControlPlaneUrl", parse.GetValue(CliOptions.Server)!.ToString());
            AddSetting(arguments, "Agent:ControlPlaneCaFile", parse.GetValue(CliOptions.CaFile) is { } caFile ? Path.GetFullPath(caFile) : null);
            AddSetting(arguments, "Agent:ControlPlaneFingerprint", parse.GetValue(CliOptions.CaFingerprint));
            AddSetting(arguments, "Agent:EnrollmentKeyFile", parse.GetValue(keyFile) is { } file ? Path.GetFullPath(file) : null);
            AddSetting(arguments, "Agent:EnrollmentKey", parse.GetValue(key));
            AddSetting(arguments, "Agent:DataDirectory", parse.GetValue(dataDir) is { } dir ? Path.GetFullPath(dir) : null);
            AddSetting(arguments, "LocalBroker:Port", parse.GetValue(localPort)?.ToString(System.Globalization.CultureInfo.InvariantCulture));
            AddSetting(arguments, "InferenceHttp:Port", parse.GetValue(httpPort)?.ToString(System.Globalization.CultureInfo.InvariantCulture));
            foreach (var tag in parse.GetValue(tags) ?? [])
            {
                var equals = tag.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0)
                {
                    throw new CliException($"--tag '{tag}' is not key=value");
                }

                AddSetting(arguments, $"Agent:Tags:{tag[..equals]}", tag[(equals + 1)..]);
            }

            arguments.AddRange(parse.UnmatchedTokens);
            return await RunForegroundAsync("agent", HostProcess.AgentAssembly, arguments, ct).ConfigureAwait(false);
        });
        return agent;
    }

    internal static void AddSetting(List<string> arguments, string key, string? value)
    {
        if (value is not null)
        {
            arguments.Add($"--{key}={value}");
        }
    }

    private static async Task<int> RunForegroundAsync(string name, string assembly, IEnumerable<string> arguments, CancellationToken ct)
    {
        await using var group = new ProcessGroup();
        var process = group.Start(name, assembly, arguments, logPath: null);
        try
        {
            await process.WaitForExitAsync(ct).ConfigureAwait(false);
            return process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            await process.StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            return 130;
        }
    }
}
