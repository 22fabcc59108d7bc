using EdgePlatform.Security.Tuf;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace EdgePlatform.ControlPlane.Host.Tests;

/// <summary>
/// The whole server in-process over a fresh data directory: TestServer for HTTP, the embedded
/// broker on a free loopback port, SQLite, blobs and keys under the temp directory.
/// </summary>
public sealed class ControlPlaneFactory : WebApplicationFactory<Program>
{
    private readonly bool _ownsDirectory;
    private readonly Dictionary<string, string> _settings = [];

    public ControlPlaneFactory()
    {
        DataDirectory = Directory.CreateTempSubdirectory("edgeplatform-host-tests-").FullName;
        _ownsDirectory = true;

        // Group-readable to begin with, so a test sees whether the server tightens it.
        File.SetUnixFileMode(DataDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
    }

    private ControlPlaneFactory(string dataDirectory)
    {
        DataDirectory = dataDirectory;
    }

    public string DataDirectory { get; }

    /// <summary>A server with extra configuration settings (key → value), e.g. an external broker.</summary>
    public static ControlPlaneFactory With(IReadOnlyDictionary<string, string> settings)
    {
        var factory = new ControlPlaneFactory();
        foreach (var (key, value) in settings)
        {
            factory._settings[key] = value;
        }

        return factory;
    }

    /// <summary>A server over an existing data directory, which stays when the server is disposed.</summary>
    public static ControlPlaneFactory Over(string dataDirectory, IReadOnlyDictionary<string, string>? settings = null)
    {
        var factory = new ControlPlaneFactory(dataDirectory);
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            factory._settings[key] = value;
        }

        return factory;
    }

    /// <summary>The server's signing key for a metadata role, as it keeps it in <c>keys/</c>.</summary>
    public TufSigningKey LoadKey(string role) => TufSigningKey.FromPem(File.ReadAllText(Path.Combine(DataDirectory, "keys", role + ".pem")));

    /// <summary>The server's group key, from which each device's own key is derived.</summary>
    public string EnrollmentKey => File.ReadAllText(Path.Combine(DataDirectory, "enrollment.key")).Trim();

    /// <summary>The key <paramref name="deviceId"/> enrolls with: derived for it from the server's group key.</summary>
    public string EnrollmentKeyFor(string deviceId) => EdgePlatform.Security.EnrollmentKeys.Derive(EnrollmentKey, deviceId);

    /// <summary>Where the server writes its first admin token; clients from <see cref="WebApplicationFactory{TEntryPoint}.CreateClient()"/> carry it.</summary>
    public string AdminTokenFile => Path.Combine(DataDirectory, "admin.token");

    /// <summary>
    /// A client with the admin token that also answers the registry's token challenges with it,
    /// as <c>edgectl</c> does, so tests can read and push under <c>/v2/</c>.
    /// </summary>
    public new HttpClient CreateClient() =>
        CreateDefaultClient(
            new Uri("http://localhost"),
            new EdgePlatform.Oci.RegistryTokenHandler(
                _ => ValueTask.FromResult<string?>(File.ReadAllText(AdminTokenFile).Trim()),
                [new Uri(Services.GetRequiredService<EdgePlatform.ControlPlane.Host.Hosting.ServerBootstrap>().HttpUrl)]));

    /// <summary>A client with no token, for testing refusals.</summary>
    public HttpClient CreateAnonymousClient()
    {
        var client = base.CreateClient();
        client.DefaultRequestHeaders.Authorization = null;
        return client;
    }

    protected override void ConfigureClient(HttpClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        base.ConfigureClient(client);
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", File.ReadAllText(AdminTokenFile).Trim());
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Server:DataDirectory", DataDirectory);
        builder.UseSetting("Server:HttpPort", "0");
        builder.UseSetting("Server:MqttPort", "0");
        builder.UseSetting("Server:InitialAdminTokenFile", AdminTokenFile);
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (_ownsDirectory)
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
    }
}
