using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace EdgePlatform.Oci.Tests;

/// <summary>
/// The control plane in-process on a loopback Kestrel port, over a fresh data directory, so the
/// client talks real HTTP to the embedded registry. The client answers the registry's token
/// challenges with the first admin token, as <c>edgectl</c> does.
/// </summary>
public sealed class EmbeddedRegistryFixture : WebApplicationFactory<Program>
{
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("edgeplatform-oci-tests-").FullName;

    public EmbeddedRegistryFixture()
    {
        UseKestrel();
        StartServer();
        Http = CreateDefaultClient(new EdgePlatform.Oci.RegistryTokenHandler(
            _ => ValueTask.FromResult<string?>(File.ReadAllText(AdminTokenFile).Trim()),
            [new Uri(Services.GetRequiredService<EdgePlatform.ControlPlane.Host.Hosting.ServerBootstrap>().HttpUrl)]));
        Registry = Http.BaseAddress!;
    }

    /// <summary>A client of the Kestrel server (not the in-memory test server).</summary>
    public HttpClient Http { get; }

    public Uri Registry { get; }

    private string AdminTokenFile => Path.Combine(_dataDirectory, "admin.token");

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Server:DataDirectory", _dataDirectory);
        builder.UseSetting("Server:HttpPort", "0");
        builder.UseSetting("Server:MqttPort", "0");
        builder.UseSetting("Server:InitialAdminTokenFile", AdminTokenFile);
        builder.UseSetting("Logging:LogLevel:Default", "Warning");

        // Idempotent: a no-op once the host registers the push side itself.
    }

    public override async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dataDirectory, recursive: true);
    }
}
