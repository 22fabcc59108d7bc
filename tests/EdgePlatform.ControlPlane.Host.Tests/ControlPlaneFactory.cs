using EdgePlatform.Security.Tuf;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace EdgePlatform.ControlPlane.Host.Tests;

/// <summary>
/// The whole server in-process over a fresh data directory: TestServer for HTTP, the embedded
/// broker on a free loopback port, SQLite, blobs and keys under the temp directory.
/// </summary>
public sealed class ControlPlaneFactory : WebApplicationFactory<Program>
{
    private readonly bool _ownsDirectory;

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

    /// <summary>A server over an existing data directory, which stays when the server is disposed.</summary>
    public static ControlPlaneFactory Over(string dataDirectory) => new(dataDirectory);

    /// <summary>The server's signing key for a metadata role, as it keeps it in <c>keys/</c>.</summary>
    public TufSigningKey LoadKey(string role) => TufSigningKey.FromPem(File.ReadAllText(Path.Combine(DataDirectory, "keys", role + ".pem")));

    public string EnrollmentKey => File.ReadAllText(Path.Combine(DataDirectory, "enrollment.key")).Trim();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Server:DataDirectory", DataDirectory);
        builder.UseSetting("Server:HttpPort", "0");
        builder.UseSetting("Server:MqttPort", "0");
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
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
