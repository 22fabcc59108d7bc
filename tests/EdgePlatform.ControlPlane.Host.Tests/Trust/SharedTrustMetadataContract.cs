using EdgePlatform.ControlPlane.Host.Datasets;
using EdgePlatform.ControlPlane.Host.Hosting;
using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Host.Tests.Storage;
using EdgePlatform.ControlPlane.Host.Trust;
using EdgePlatform.ControlPlane.Leases;
using EdgePlatform.Security.Tuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Host.Tests.Trust;

/// <summary>
/// Trust metadata kept in the store every replica shares: a release approved through one replica
/// is trusted through every other, and replicas approving at the same time lose nothing.
/// </summary>
public abstract class SharedTrustMetadataContract(StoreProvider provider) : StoreContract(provider)
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edgeplatform-trust-").FullName;

    private string KeyDirectory => Path.Combine(_directory, "keys");

    [Fact]
    public async Task ApproveAsync_OnOneReplica_TheOtherServesTheApprovedTarget()
    {
        using var first = Publisher("a", Stores, createKeys: true);
        using var otherStores = OpenAnotherReplica();
        using var second = Publisher("b", otherStores, createKeys: false);

        await first.ApproveAsync("sensor", "1", "models/sensor", "sha256:" + new string('a', 64), 512, CancellationToken.None);

        Assert.Equal(first.Repository.RootBytes(1), second.Repository.RootBytes(1));
        var target = Assert.Single(second.Repository.Targets!.Targets);
        Assert.Equal("sensor:1", target.Key);
        Assert.Equal(first.Repository.TimestampBytes, second.Repository.TimestampBytes);
    }

    [Fact]
    public async Task ApproveAsync_TwoReplicasAtOnce_EveryApprovalInTheTargetsAndEachVersionSignedOnce()
    {
        using var first = Publisher("a", Stores, createKeys: true);
        using var otherStores = OpenAnotherReplica();
        using var second = Publisher("b", otherStores, createKeys: false);
        var before = first.Repository.Targets!.Version;

        await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(() =>
            (i % 2 == 0 ? first : second).ApproveAsync("sensor", $"{i}", "models/sensor", "sha256:" + new string('b', 64), 512, CancellationToken.None))));

        var targets = second.Repository.Targets!;
        Assert.Equal(20, targets.Targets.Count);
        Assert.Equal(before + 20, targets.Version);
        Assert.Equal(targets.Version, first.Repository.Timestamp!.Targets.Version);
    }

    [Fact]
    public void Constructor_ReplicaMayNotCreateKeysAndTheStoreIsEmpty_FailsSayingWhichServerStartsFirst()
    {
        Publisher("a", Stores, createKeys: true).Dispose();
        using var empty = TestStores.Create(Provider);

        var error = Assert.Throws<InvalidOperationException>(() => Publisher("b", empty.Stores, createKeys: false));

        Assert.Contains("Server:CreateKeys is false", error.Message, StringComparison.Ordinal);
    }

    protected TufTrustPublisher Publisher(string replica, Stores stores, bool createKeys)
    {
        if (createKeys)
        {
            // The server creates the dataset connection key beside the other key material; a replica requires it.
            _ = new ConnectionSecrets(Path.Combine(KeyDirectory, ServerBootstrap.ConnectionKeyFileName));
        }

        var bootstrap = ServerBootstrap.Prepare(new ServerOptions
        {
            DataDirectory = Path.Combine(_directory, replica),
            KeyDirectory = KeyDirectory,
            CreateKeys = createKeys,
            HttpPort = 0,
            MqttPort = 0,
        });
        return new TufTrustPublisher(
            bootstrap, Options.Create(new TrustOptions()), stores.TrustMetadata, stores.Leases, Options.Create(new ReplicaOptions { Id = replica }),
            TimeProvider.System, NullLogger<TufTrustPublisher>.Instance);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        Directory.Delete(_directory, recursive: true);
    }
}

public sealed class SqliteSharedTrustMetadataTests() : SharedTrustMetadataContract(StoreProvider.Sqlite)
{
    [Fact]
    public async Task Constructor_DataDirectoryKeptTrustMetadataInFiles_ImportsItOnce()
    {
        var data = Directory.CreateTempSubdirectory("edgeplatform-trust-files-").FullName;
        try
        {
            var options = new ServerOptions { DataDirectory = data, HttpPort = 0, MqttPort = 0 };
            using var files = TestStores.Create(StoreProvider.Sqlite);
            byte[]? root;
            byte[]? targets;
            using (var before = new TufTrustPublisher(
                ServerBootstrap.Prepare(options), Options.Create(new TrustOptions()), new DirectoryTufMetadataStore(Path.Combine(data, "trust")), files.Stores.Leases,
                Options.Create(new ReplicaOptions { Id = "old" }), TimeProvider.System, NullLogger<TufTrustPublisher>.Instance))
            {
                await before.ApproveAsync("sensor", "1", "models/sensor", "sha256:" + new string('c', 64), 512, CancellationToken.None);
                root = before.Repository.RootBytes(1);
                targets = before.Repository.TargetsBytes;
            }

            using var after = new TufTrustPublisher(
                ServerBootstrap.Prepare(options), Options.Create(new TrustOptions()), Stores.TrustMetadata, Stores.Leases,
                Options.Create(new ReplicaOptions { Id = "new" }), TimeProvider.System, NullLogger<TufTrustPublisher>.Instance);

            Assert.Equal(root, Stores.TrustMetadata.Read("root/1.json"));
            Assert.Equal(targets, after.Repository.TargetsBytes);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }
}

[Trait("Category", "Integration")]
public sealed class PostgresSharedTrustMetadataTests() : SharedTrustMetadataContract(StoreProvider.Postgres);
