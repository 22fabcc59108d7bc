using EdgePlatform.ControlPlane.Host.Tests.Datasets;
using Npgsql;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// Where a test's control plane keeps its state and which broker its devices use. The embedded
/// profile is the defaults (SQLite and blobs in the data directory, the embedded broker). The
/// scale-out profile (<c>EDGEPLATFORM_TEST_PROFILE=scale-out</c>, as tests/run.sh's second pass
/// sets it) gives the server a fresh database of its own on the PostgreSQL server, a fresh Azurite
/// container for artifacts, and mosquitto as the device broker, run from the configuration the
/// control plane writes; all of them are removed with the profile.
/// </summary>
public sealed class ServerProfile : IAsyncDisposable
{
    public const string Variable = "EDGEPLATFORM_TEST_PROFILE";
    public const string ScaleOutName = "scale-out";

    private readonly string _root;
    private readonly string? _postgresServer;
    private readonly string _database = "edgeplatform_e2e_" + Guid.NewGuid().ToString("N")[..12];
    private readonly string _container = "e2e-" + Guid.NewGuid().ToString("N")[..12];
    private ServiceProcess? _broker;

    private ServerProfile(string root, string? postgresServer)
    {
        _root = root;
        _postgresServer = postgresServer;
        if (postgresServer is not null)
        {
            StoreConnectionString = new NpgsqlConnectionStringBuilder(postgresServer) { Database = _database }.ConnectionString;
            AzuriteConnectionString = TestServices.Require(TestServices.Azurite, "Azurite");
        }
    }

    /// <summary>Whether this run asks for the scale-out profile.</summary>
    public static bool ScaleOutRequested => Environment.GetEnvironmentVariable(Variable) == ScaleOutName;

    public bool IsScaleOut => _postgresServer is not null;

    /// <summary>The profile's PostgreSQL database; null in the embedded profile.</summary>
    public string? StoreConnectionString { get; }

    public string? AzuriteConnectionString { get; }

    /// <summary>mosquitto's TLS port in the scale-out profile.</summary>
    public int MqttPort { get; } = ServiceProcess.FreePort();

    public string MosquittoDirectory => Path.Combine(_root, "mosquitto");

    public int? BrokerProcessId => _broker?.Id;

    /// <summary>The embedded profile, or the scale-out one when the run asks for it (or <paramref name="scaleOut"/> says so).</summary>
    public static async Task<ServerProfile> CreateAsync(string root, bool? scaleOut = null)
    {
        if (!(scaleOut ?? ScaleOutRequested))
        {
            return new ServerProfile(root, null);
        }

        var profile = new ServerProfile(root, TestServices.Require(TestServices.PostgreSql, "PostgreSQL"));
        await profile.AdminAsync($"CREATE DATABASE {profile._database}");
        return profile;
    }

    /// <summary>
    /// The server settings of the profile; <paramref name="writesBrokerConfiguration"/>: this server
    /// writes mosquitto's configuration (one server of a profile does).
    /// </summary>
    public IReadOnlyList<string> Settings(bool writesBrokerConfiguration = true) => IsScaleOut
        ?
        [
            "--Store:Provider=postgres", $"--Store:ConnectionString={StoreConnectionString}",
            "--Artifacts:Provider=azure", $"--Artifacts:ConnectionString={AzuriteConnectionString}", $"--Artifacts:Container={_container}",
            "--Broker:Mode=external", "--Broker:Host=127.0.0.1", $"--Broker:Port={MqttPort}",
            .. writesBrokerConfiguration ? (string[])[$"--Broker:MosquittoConfigDirectory={MosquittoDirectory}"] : [],
        ]
        : [];

    /// <summary>Starts mosquitto from the configuration the server wrote; nothing in the embedded profile.</summary>
    public async Task StartBrokerAsync()
    {
        if (IsScaleOut && _broker is null)
        {
            _broker = await ServiceProcess.StartMosquittoAsync(MosquittoDirectory, Path.Combine(_root, "mosquitto.log"));
        }
    }

    /// <summary>Runs <paramref name="sql"/> on the profile's database and returns the first column of the first row.</summary>
    public async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(StoreConnectionString ?? throw new InvalidOperationException("the embedded profile has no PostgreSQL database"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        if (_broker is not null)
        {
            await _broker.DisposeAsync();
        }

        if (IsScaleOut)
        {
            NpgsqlConnection.ClearAllPools();
            try
            {
                await AdminAsync($"DROP DATABASE IF EXISTS {_database} WITH (FORCE)");
            }
            catch (NpgsqlException)
            {
                // The server may be gone at the end of the run; the database dies with its cluster.
            }
        }
    }

    private async Task AdminAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_postgresServer);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
