using System.Text.Json;
using EdgePlatform.Cli.Commands;
using EdgePlatform.Contracts;

namespace EdgePlatform.Cli.Processes;

/// <summary>A control plane that a command starts on this machine for itself, as <c>demo</c> and <c>sim --start-server</c> do.</summary>
internal static class LocalControlPlane
{
    /// <summary>
    /// Starts the server with its data in <c>root/server</c>, ports chosen by the system, its first
    /// admin token written to <see cref="AdminTokenFile"/> under <paramref name="root"/>, its log in
    /// <c>root/server.log</c> and <paramref name="settings"/> (<c>--Section:Key=value</c>) on top;
    /// returns once it has announced where it listens.
    /// </summary>
    public static async Task<(HostProcess Server, ServerEndpoints Endpoints)> StartAsync(
        ProcessGroup group, string root, IEnumerable<string> settings, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(group);
        var data = Path.Combine(root, "server");
        var server = group.Start(
            "control plane",
            HostProcess.ServerAssembly,
            [
                $"--Server:DataDirectory={data}", "--Server:HttpPort=0", "--Server:MqttPort=0",
                $"--Server:InitialAdminTokenFile={AdminTokenFile(root)}", .. settings,
            ],
            Path.Combine(root, "server.log"));
        var endpoints = await DemoCommand.WaitForFileAsync(
            Path.Combine(data, ServerEndpoints.FileName), server, b => JsonSerializer.Deserialize(b, ContractsJsonContext.Default.ServerEndpoints), ct).ConfigureAwait(false);
        return (server, endpoints);
    }

    /// <summary>Where a server started under <paramref name="root"/> writes its first admin token.</summary>
    public static string AdminTokenFile(string root) => Path.Combine(root, DemoCommand.AdminTokenFile);
}
