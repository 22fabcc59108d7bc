using System.Net;
using System.Text.Json;
using EdgePlatform.Cli;
using EdgePlatform.Cli.Processes;
using EdgePlatform.Contracts;

namespace EdgePlatform.EndToEnd.Tests.ScaleOut;

/// <summary>
/// Several control-plane replicas in the scale-out profile (<see cref="ServerProfile"/>: one
/// PostgreSQL database, one Azurite container, mosquitto configured from the files the first
/// replica writes), optionally with the CNCF distribution registry using the control plane's token
/// auth. Replicas share the key material through one key directory, as a Kubernetes secret gives
/// it to them; each has its own data directory, HTTP port and replica id. A replica can be killed
/// (SIGKILL) and started again with the same identity.
/// </summary>
public sealed class ScaleOutPlatform : IAsyncDisposable
{
    private readonly ProcessGroup _processes = new();
    private readonly List<ServiceProcess> _services = [];
    private readonly Dictionary<int, HostProcess> _running = [];
    private readonly Dictionary<int, int> _starts = [];
    private readonly bool _withRegistry;

    private ScaleOutPlatform(ServerProfile profile, bool withRegistry, IReadOnlyList<string> extraSettings, string root)
    {
        Profile = profile;
        Root = root;
        _withRegistry = withRegistry;
        ExtraSettings = extraSettings;
        Registry = new Uri($"http://127.0.0.1:{RegistryPort}/");
    }

    public string Root { get; }

    public ServerProfile Profile { get; }

    public string StoreConnectionString => Profile.StoreConnectionString!;

    public int MqttPort => Profile.MqttPort;

    public int RegistryPort { get; } = ServiceProcess.FreePort();

    public Uri Registry { get; }

    public string KeyDirectory => Path.Combine(Root, "keys");

    public string AdminTokenFile => Path.Combine(Root, "admin.token");

    /// <summary>Settings every replica gets besides the profile's (intervals, attestation).</summary>
    public IReadOnlyList<string> ExtraSettings { get; }

    /// <summary>The HTTP port of each replica, fixed across restarts.</summary>
    public IReadOnlyDictionary<int, int> HttpPorts { get; private set; } = new Dictionary<int, int>();

    /// <summary>The mosquitto process.</summary>
    public int BrokerProcessId => Profile.BrokerProcessId ?? throw new InvalidOperationException("mosquitto has not started");

    /// <summary>
    /// Starts the services and <paramref name="replicas"/> replicas (replica 1 first: it creates the
    /// key material and the mosquitto configuration; the others read them).
    /// </summary>
    public static Task<ScaleOutPlatform> StartAsync(int replicas, params string[] extraSettings) =>
        StartAsync(replicas, withRegistry: true, extraSettings);

    /// <summary>As <see cref="StartAsync(int, string[])"/>; without the external registry devices pull from the replicas' own /v2/, served from the blob container.</summary>
    public static async Task<ScaleOutPlatform> StartAsync(int replicas, bool withRegistry, params string[] extraSettings)
    {
        var root = Directory.CreateTempSubdirectory("edgeplatform-e2e-scaleout-").FullName;
        var platform = new ScaleOutPlatform(await ServerProfile.CreateAsync(root, scaleOut: true), withRegistry, extraSettings, root)
        {
            HttpPorts = Enumerable.Range(1, replicas).ToDictionary(n => n, _ => ServiceProcess.FreePort()),
        };
        await platform.StartReplicaAsync(1);
        await platform.Profile.StartBrokerAsync();
        if (withRegistry)
        {
            await platform.StartRegistryAsync();
        }

        for (var n = 2; n <= replicas; n++)
        {
            await platform.StartReplicaAsync(n);
        }

        return platform;
    }

    public Uri Url(int replica) => new($"http://127.0.0.1:{HttpPorts[replica]}");

    public HostProcess Process(int replica) => _running[replica];

    /// <summary>An admin API client of one replica.</summary>
    public async Task<ApiClient> ApiAsync(int replica) =>
        new(Url(replica), (await File.ReadAllTextAsync(AdminTokenFile)).Trim());

    public async Task<string> EnrollmentKeyAsync() =>
        (await File.ReadAllTextAsync(Path.Combine(KeyDirectory, "enrollment.key"))).Trim();

    /// <summary>Starts replica <paramref name="replica"/> (again, after a kill: same id, ports and directories) and waits until it serves.</summary>
    public async Task<HostProcess> StartReplicaAsync(int replica)
    {
        var data = Path.Combine(Root, $"replica-{replica}");
        var endpointsFile = Path.Combine(data, ServerEndpoints.FileName);
        if (File.Exists(endpointsFile))
        {
            File.Delete(endpointsFile);
        }

        var start = _starts[replica] = _starts.GetValueOrDefault(replica) + 1;
        var process = _processes.Start(
            $"replica-{replica}-{start}",
            HostProcess.ServerAssembly,
            [
                $"--Server:DataDirectory={data}", $"--Server:HttpPort={HttpPorts[replica]}", $"--Server:KeyDirectory={KeyDirectory}",
                $"--Server:InitialAdminTokenFile={AdminTokenFile}", $"--Replica:Id=replica-{replica}",

                // The first replica creates the key material (and the trust root) the others read.
                $"--Server:CreateKeys={(replica == 1 ? "true" : "false")}",
                .. Profile.Settings(writesBrokerConfiguration: replica == 1),
                .. _withRegistry ? (string[])[$"--Enrollment:RegistryUrl={Registry}"] : [],
                "--Logging:LogLevel:EdgePlatform.ControlPlane.Host.Broker.MqttDeviceLink=Information",
                .. ExtraSettings,
            ],
            Path.Combine(Root, $"replica-{replica}-{start}.log"));
        await Wait.ForFileAsync(endpointsFile, process, b => JsonSerializer.Deserialize(b, ContractsJsonContext.Default.ServerEndpoints));
        await Wait.UntilAsync(() => Task.FromResult(File.Exists(AdminTokenFile)), "the initial admin token");
        _running[replica] = process;
        return process;
    }

    /// <summary>
    /// Waits until every running replica's device link is connected to the broker (it logs so on
    /// each connect), so that the shared subscription has all its members before devices publish.
    /// </summary>
    public Task WaitLinkedAsync() =>
        Wait.UntilAsync(
            () => Task.FromResult(_running.Values.All(p => p.LogTail(400).Contains("Device link connected", StringComparison.Ordinal))),
            "every replica's device link connected to mosquitto");

    /// <summary>SIGKILL: the replica gets no chance to finish what it was doing or give up its leases.</summary>
    public async Task KillReplicaAsync(int replica)
    {
        var process = _running[replica];
        process.Kill();
        await process.WaitForExitAsync(default);
        _running.Remove(replica);
    }

    public Task<long> ScalarAsync(string sql) => Profile.ScalarAsync(sql);

    /// <summary>The PostgreSQL server's main process (the parent of the backend that answers), for its CPU time.</summary>
    public async Task<int> DatabaseServerProcessIdAsync()
    {
        var backend = (int)await ScalarAsync("SELECT pg_backend_pid()");
        var stat = await File.ReadAllTextAsync($"/proc/{backend}/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Every replica's log tail, for a failure message.</summary>
    public string LogTails(int lines = 15) =>
        string.Join('\n', _running.OrderBy(r => r.Key).Select(r => $"--- replica {r.Key}\n{r.Value.LogTail(lines)}"));

    public async ValueTask DisposeAsync()
    {
        await _processes.DisposeAsync();
        foreach (var service in _services)
        {
            await service.DisposeAsync();
        }

        await Profile.DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A log still being flushed keeps the folder; it is under the system temp directory.
        }
    }

    /// <summary>The distribution registry trusting the control plane's token signing certificate; the last replica issues its tokens.</summary>
    private async Task StartRegistryAsync()
    {
        var binary = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':')
            .Select(d => Path.Combine(d, "docker-registry"))
            .FirstOrDefault(File.Exists) ?? throw new InvalidOperationException("docker-registry is needed: run tests/run.sh, which installs it");
        var config = Path.Combine(Root, "registry.yml");
        await File.WriteAllTextAsync(config, $"""
            version: 0.1
            log:
              level: warn
            storage:
              filesystem:
                rootdirectory: {Path.Combine(Root, "registry-data")}
            http:
              addr: 127.0.0.1:{RegistryPort}
            auth:
              token:
                realm: http://127.0.0.1:{HttpPorts[HttpPorts.Count]}/api/v1/registry/token
                service: edgeplatform-registry
                issuer: edgeplatform
                rootcertbundle: {Path.Combine(Root, "replica-1", "token-signing.crt")}
            """);
        _services.Add(ServiceProcess.Start(binary, ["serve", config], Path.Combine(Root, "registry.log")));
        using var probe = new HttpClient();
        await Wait.UntilAsync(
            async () =>
            {
                try
                {
                    using var response = await probe.GetAsync(new Uri(Registry, "v2/"));
                    return response.StatusCode == HttpStatusCode.Unauthorized;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            },
            "the distribution registry to answer");
    }
}
