using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.Security.Tuf;

namespace EdgePlatform.ControlPlane.Host.Tests.Hosting;

public sealed class ServerFilesTests(ControlPlaneFactory server) : IClassFixture<ControlPlaneFactory>
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    [Fact]
    public void Start_SigningKeys_AreReadableByTheOwnerOnly()
    {
        using var client = server.CreateClient();
        var keys = Path.Combine(server.DataDirectory, "keys");

        Assert.Equal(OwnerOnlyDirectory, File.GetUnixFileMode(keys));
        foreach (var name in new[] { "root.pem", "targets.pem", "timestamp.pem" })
        {
            Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(Path.Combine(keys, name)));
        }
    }

    [Fact]
    public async Task Start_TrustMetadata_IsSignedByTheKeysInTheDataDirectory()
    {
        using var client = server.CreateClient();
        using var rootKey = server.LoadKey(TufRoles.Root);
        using var targetsKey = server.LoadKey(TufRoles.Targets);
        using var timestampKey = server.LoadKey(TufRoles.Timestamp);

        // Served from the store, as every replica serves them.
        var rootEnvelope = TufEnvelopes.Parse(await client.GetByteArrayAsync(new Uri("/api/v1/trust/root/1", UriKind.Relative)));
        var root = TufEnvelopes.Read(rootEnvelope, TufJsonContext.Default.RootMetadata, TufRoles.Root);
        var targets = TufEnvelopes.Parse(await client.GetByteArrayAsync(new Uri("/api/v1/trust/targets", UriKind.Relative)));
        var timestamp = TufEnvelopes.Parse(await client.GetByteArrayAsync(new Uri("/api/v1/trust/timestamp", UriKind.Relative)));

        Assert.Equal([rootKey.KeyId], TufEnvelopes.ValidRoleSigners(rootEnvelope, root, TufRoles.Root));
        Assert.Equal([targetsKey.KeyId], TufEnvelopes.ValidRoleSigners(targets, root, TufRoles.Targets));
        Assert.Equal([timestampKey.KeyId], TufEnvelopes.ValidRoleSigners(timestamp, root, TufRoles.Timestamp));
    }

    [Fact]
    public void Start_EnrollmentKeyAndDataDirectory_AreTheOwnersOnly()
    {
        using var client = server.CreateClient();

        Assert.Equal(OwnerOnlyDirectory, File.GetUnixFileMode(server.DataDirectory));
        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(Path.Combine(server.DataDirectory, "enrollment.key")));
        Assert.Equal(64, server.EnrollmentKey.Length);
    }

    [Fact]
    public void Start_EndpointsFile_AnnouncesResolvedPorts()
    {
        using var client = server.CreateClient();

        var endpoints = JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(server.DataDirectory, "server.json")), ContractsJsonContext.Default.ServerEndpoints)!;

        Assert.NotEqual(0, endpoints.MqttPort);
        Assert.StartsWith("http://127.0.0.1:", endpoints.HttpUrl, StringComparison.Ordinal);
        Assert.NotEqual("http://127.0.0.1:0", endpoints.HttpUrl);
        Assert.Equal(Path.Combine(server.DataDirectory, "enrollment.key"), endpoints.EnrollmentKeyFile);
        Assert.Equal(Environment.ProcessId, endpoints.ProcessId);
    }
}
