using EdgePlatform.ControlPlane.Host.Datasets;
using EdgePlatform.ControlPlane.Host.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace EdgePlatform.ControlPlane.Host.Tests.Hosting;

/// <summary>Replicas reading their key material from one shared key directory (<c>Server:KeyDirectory</c>).</summary>
public sealed class KeyDirectoryTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edgeplatform-keys-").FullName;

    [Fact]
    public async Task Prepare_KeyDirectoryFilledByAServerAllowedToCreateKeys_ReplicaUsesTheSameKeys()
    {
        var keys = Path.Combine(_directory, "keys");
        await using var first = ControlPlaneFactory.With(new Dictionary<string, string>
        {
            ["Server:KeyDirectory"] = keys,
            ["Server:CreateKeys"] = "true",
        });
        using var client = first.CreateClient();
        var created = first.Services.GetRequiredService<ServerBootstrap>();
        var sealedSecret = first.Services.GetRequiredService<ConnectionSecrets>().Seal("Host=db;Password=secret");

        var replica = ServerBootstrap.Prepare(new ServerOptions { DataDirectory = Path.Combine(_directory, "replica"), KeyDirectory = keys, HttpPort = 0, MqttPort = 0 });

        Assert.All(ServerBootstrap.RequiredKeyFiles(replica.Options), file => Assert.True(File.Exists(Path.Combine(keys, file)), $"{file} not in the key directory"));
        Assert.False(File.Exists(Path.Combine(first.DataDirectory, ServerBootstrap.DeviceCaFileName)), "the device CA's key was written to the data directory");
        Assert.False(replica.CreatesKeys);
        Assert.Equal(created.DeviceCa.CertificatePem, replica.DeviceCa.CertificatePem);
        Assert.Equal(created.TokenSigner.CertificatePem, replica.TokenSigner.CertificatePem);
        Assert.Equal(created.EnrollmentKey, replica.EnrollmentKey);
        Assert.Equal(Path.Combine(keys, ServerBootstrap.EnrollmentKeyFileName), replica.EnrollmentKeyFile);
        Assert.Equal("Host=db;Password=secret", new ConnectionSecrets(Path.Combine(keys, ServerBootstrap.ConnectionKeyFileName), create: false).Open(sealedSecret));
    }

    [Fact]
    public void Prepare_KeyDirectoryLacksKeysAndMayNotCreateThem_FailsNamingEachMissingFile()
    {
        var keys = Directory.CreateDirectory(Path.Combine(_directory, "empty")).FullName;

        var error = Assert.Throws<InvalidOperationException>(() =>
            ServerBootstrap.Prepare(new ServerOptions { DataDirectory = Path.Combine(_directory, "data"), KeyDirectory = keys, HttpPort = 0, MqttPort = 0 }));

        foreach (var file in new[] { "device-ca.pem", "token-signing.pem", "enrollment.key", Path.Combine("keys", "targets.pem"), Path.Combine("keys", "timestamp.pem"), "datasets/connections.key" })
        {
            Assert.Contains(file, error.Message, StringComparison.Ordinal);
        }

        Assert.Contains("Server:CreateKeys", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(keys));
    }

    [Fact]
    public void Prepare_NoKeyDirectory_CreatesKeysInTheDataDirectory()
    {
        var data = Path.Combine(_directory, "single");

        var bootstrap = ServerBootstrap.Prepare(new ServerOptions { DataDirectory = data, HttpPort = 0, MqttPort = 0 });

        Assert.True(bootstrap.CreatesKeys);
        Assert.Equal(data, bootstrap.KeyDirectory);
        Assert.True(File.Exists(Path.Combine(data, ServerBootstrap.DeviceCaFileName)));
        Assert.True(File.Exists(Path.Combine(data, ServerBootstrap.EnrollmentKeyFileName)));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
