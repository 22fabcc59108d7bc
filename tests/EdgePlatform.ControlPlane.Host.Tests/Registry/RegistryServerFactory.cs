using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace EdgePlatform.ControlPlane.Host.Tests.Registry;

/// <summary>
/// The server in-process with its registry's push side and a small blob limit
/// (<see cref="MaxBlobBytes"/>), so the limit can be crossed cheaply.
/// </summary>
public sealed class RegistryServerFactory : WebApplicationFactory<Program>
{
    public const long MaxBlobBytes = 4096;

    private readonly bool _ownsDirectory;

    public RegistryServerFactory()
        : this(Directory.CreateTempSubdirectory("edgeplatform-registry-tests-").FullName, ownsDirectory: true)
    {
    }

    private RegistryServerFactory(string dataDirectory, bool ownsDirectory)
    {
        DataDirectory = dataDirectory;
        _ownsDirectory = ownsDirectory;
    }

    public string DataDirectory { get; }

    public string UploadsDirectory => Path.Combine(DataDirectory, "blobs", "uploads");

    public string AdminTokenFile => Path.Combine(DataDirectory, "admin.token");

    /// <summary>A client that answers the registry's token challenges with the admin API token.</summary>
    public new HttpClient CreateClient() =>
        CreateDefaultClient(
            new Uri("http://localhost"),
            new EdgePlatform.Oci.RegistryTokenHandler(
                _ => ValueTask.FromResult<string?>(File.ReadAllText(AdminTokenFile).Trim()),
                [new Uri(Services.GetRequiredService<EdgePlatform.ControlPlane.Host.Hosting.ServerBootstrap>().HttpUrl)]));

    /// <summary>A client without any credential.</summary>
    public HttpClient CreateAnonymousClient() => base.CreateClient();

    /// <summary>A server over an existing data directory, which stays when the server is disposed.</summary>
    public static RegistryServerFactory Over(string dataDirectory) => new(dataDirectory, ownsDirectory: false);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Server:DataDirectory", DataDirectory);
        builder.UseSetting("Server:HttpPort", "0");
        builder.UseSetting("Server:MqttPort", "0");
        builder.UseSetting("Server:InitialAdminTokenFile", AdminTokenFile);
        builder.UseSetting("Registry:MaxBlobBytes", MaxBlobBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.UseSetting("Logging:LogLevel:Default", "Warning");

        // Idempotent: a no-op once the host registers the push side itself.
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
