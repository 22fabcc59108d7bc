using System.Text.Json;
using EdgePlatform.Cli;
using EdgePlatform.Cli.Processes;
using EdgePlatform.Contracts;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// A control plane of a test's own, which the test kills and starts again on the same ports and
/// data directory: each start is a new process (<c>server-N</c>, logged to <c>server-N.log</c>
/// beside the data) and counts as up once it has written its endpoints file anew.
/// </summary>
internal sealed class RestartableServer(ProcessGroup processes, string root)
{
    private int _starts;

    public int HttpPort { get; } = ServiceProcess.FreePort();

    /// <summary>The port of the embedded broker, or of the external one the test runs.</summary>
    public int MqttPort { get; } = ServiceProcess.FreePort();

    public string DataDirectory => Path.Combine(root, "server");

    public string AdminTokenFile => Path.Combine(root, "admin.token");

    private string EndpointsFile => Path.Combine(DataDirectory, ServerEndpoints.FileName);

    /// <summary>Starts the server with its data directory, HTTP port and admin token file, and <paramref name="settings"/> besides (the broker's among them).</summary>
    public async Task<(HostProcess Process, ServerEndpoints Endpoints)> StartAsync(params string[] settings)
    {
        if (File.Exists(EndpointsFile))
        {
            File.Delete(EndpointsFile);
        }

        var server = processes.Start(
            $"server-{++_starts}",
            HostProcess.ServerAssembly,
            [$"--Server:DataDirectory={DataDirectory}", $"--Server:HttpPort={HttpPort}", $"--Server:InitialAdminTokenFile={AdminTokenFile}", .. settings],
            Path.Combine(root, $"server-{_starts}.log"));
        var endpoints = await Wait.ForFileAsync(EndpointsFile, server, b => JsonSerializer.Deserialize(b, ContractsJsonContext.Default.ServerEndpoints));
        return (server, endpoints);
    }

    /// <summary>An API client with the initial admin token, once the first start has written it.</summary>
    public async Task<ApiClient> AdminClientAsync(ServerEndpoints endpoints)
    {
        await Wait.UntilAsync(() => Task.FromResult(File.Exists(AdminTokenFile)), "the initial admin token");
        return new ApiClient(new Uri(endpoints.HttpUrl), (await File.ReadAllTextAsync(AdminTokenFile)).Trim());
    }

    /// <summary>The endpoints the running server last wrote.</summary>
    public async Task<ServerEndpoints> ReadEndpointsAsync() =>
        JsonSerializer.Deserialize(await File.ReadAllBytesAsync(EndpointsFile), ContractsJsonContext.Default.ServerEndpoints)!;
}
