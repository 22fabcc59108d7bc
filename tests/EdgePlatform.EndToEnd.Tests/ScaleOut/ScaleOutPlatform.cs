using System.Net;
using System.Text.Json;
using EdgePlatform.Cli;
using EdgePlatform.Cli.Processes;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Tests.Datasets;
using Npgsql;

namespace EdgePlatform.EndToEnd.Tests.ScaleOut;

/// <summary>
/// The scale-out profile on loopback, every part a real server: control-plane replicas as
/// processes sharing one PostgreSQL database (a fresh one on the server tests/run.sh starts), one
/// Azurite blob container for artifacts, mosquitto as the device broker (configured from the files
/// the first replica writes), and the CNCF distribution registry with the control plane's token
/// auth. Replicas share the key material through one key directory, as a Kubernetes secret would
/// give it to them; each has its own data directory, HTTP port and replica id. Replicas can be
/// killed (SIGKILL) and started again with the same identity.
/// </summary>
public sealed class ScaleOutPlatform : IAsyncDisposable
{
    private readonly ProcessGroup _processes = new();
    private readonly List<ServiceProcess> _services = [];
    private readonly Dictionary<int, HostProcess> _running = [];
    private readonly Dictionary<int, int> _starts = [];
    private readonly string _postgresServer;
    private readonly string _database = "edgeplatform_e2e_" + Guid.NewGuid().ToString("N")[..12];
    private readonly string _container = "e2e-" + Guid.NewGuid().ToString("N")[..12];

    private readonly bool _withRegistry;
    private ServiceProcess? _broker;

    private ScaleOutPlatform(string postgresServer, bool withRegistry, IReadOnlyList<string> extraSettings)
    {
        _withRegistry = withRegistry;
        _postgresServer = postgresServer;
        ExtraSettings = extraSettings;
        StoreConnectionString = new NpgsqlConnectionStringBuilder(postgresServer) { Database = _database }.ConnectionString;
        AzuriteConnectionString = TestServices.Require(TestServices.Azurite, "Azurite");
        Registry = new Uri($"http://127.0.0.1:{RegistryPort}/");
    }

    public string Root { get; } = Directory.CreateTempSubdirectory("edgeplatform-e2e-scaleout-").FullName;

    public string StoreConnectionString { get; }

    public string AzuriteConnectionString { get; }

    public int MqttPort { get; } = ServiceProcess.FreePort();

    public int RegistryPort { get; } = ServiceProcess.FreePort();

    public Uri Registry { get; }

    public string KeyDirectory => Path.Combine(Root, "keys");

    public string MosquittoDirectory => Path.Combine(Root, "mosquitto");

    public string AdminTokenFile => Path.Combine(Root, "admin.token");

    /// <summary>Settings every replica gets besides the profile's (intervals, attestation).</summary>
    public IReadOnlyList<string> ExtraSettings { get; }

    /// <summary>The HTTP port of each replica, fixed across restarts.</summary>
    public IReadOnlyDictionary<int, int> HttpPorts { get; private set; } = new Dictionary<int, int>();

    /// <summary>
    /// Starts the services and <paramref name="replicas"/> replicas (replica 1 first: it creates the
    /// key material and the mosquitto configuration; the others read them).
    /// </summary>
    public static Task<ScaleOutPlatform> StartAsync(int replicas, params string[] extraSettings) =>
        StartAsync(replicas, withRegistry: true, extraSettings);

    /// <summary>As <see cref="StartAsync(int, string[])"/>; without the external registry devices pull from the replicas' own /v2/, served from the blob container.</summary>
    public static async Task<ScaleOutPlatform> StartAsync(int replicas, bool withRegistry, params string[] extraSettings)
    {
        var postgres = TestServices.Require(TestServices.PostgreSql, "PostgreSQL");
        var platform = new ScaleOutPlatform(postgres, withRegistry, extraSettings);
        platform.HttpPorts = Enumerable.Range(1, replicas).ToDictionary(n => n, _ => ServiceProcess.FreePort());
        await platform.AdminAsync($"CREATE DATABASE {platform._database}");
        await platform.StartReplicaAsync(1);
        platform._broker = await ServiceProcess.StartMosquittoAsync(platform.MosquittoDirectory, Path.Combine(platform.Root, "mosquitto.log"));
        platform._services.Add(platform._broker);
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

    /// <summary>The mosquitto process.</summary>
    public int BrokerProcessId => _broker?.Id ?? throw new InvalidOperationException("mosquitto has not started");

    /// <summary>The PostgreSQL server's main process (the parent of the backend that answers), for its CPU time.</summary>
    public async Task<int> DatabaseServerProcessIdAsync()
    {
        var backend = (int)await ScalarAsync("SELECT pg_backend_pid()");
        var stat = await File.ReadAllTextAsync($"/proc/{backend}/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
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
                "--Store:Provider=postgres", $"--Store:ConnectionString={StoreConnectionString}",
                "--Artifacts:Provider=azure", $"--Artifacts:ConnectionString={AzuriteConnectionString}", $"--Artifacts:Container={_container}",
                "--Broker:Mode=external", "--Broker:Host=127.0.0.1", $"--Broker:Port={MqttPort}",
                .. replica == 1 ? (string[])[$"--Broker:MosquittoConfigDirectory={MosquittoDirectory}"] : [],
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

    /// <summary>Runs <paramref name="sql"/> on the profile's database and returns the first column of the first row.</summary>
    public async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(StoreConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
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

        NpgsqlConnection.ClearAllPools();
        try
        {
            await AdminAsync($"DROP DATABASE IF EXISTS {_database} WITH (FORCE)");
        }
        catch (NpgsqlException)
        {
            // The server may be gone at the end of the run; the database dies with its cluster.
        }

        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A log still being flushed keeps the folder; it is under the system temp directory.
        }
    }

    private async Task AdminAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_postgresServer);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>The distribution registry trusting the control plane's token signing certificate, any replica issuing tokens.</summary>
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
                realm: {Url(HttpPorts.Count)}/api/v1/registry/token
                service: edgeplatform-registry
                issuer: edgeplatform
                rootcertbundle: {Path.Combine(KeyDirectory, "token-signing.crt")}
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
