using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Tests.Fakes;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage;

/// <summary>Two control-plane replicas, each with its own store and writer, on one database.</summary>
public abstract class DesiredStateRaceContract(StoreProvider provider) : StoreContract(provider)
{
    private const int WritesPerReplica = 60;

    [Fact]
    public async Task WriteAsync_TwoReplicasRacingOnOneDevice_NoUpdateLostAndRetainedNeverGoesBack()
    {
        using var replica = OpenAnotherReplica();
        var first = Stores.Devices;
        var second = replica.Devices;
        await first.UpsertDeviceAsync(
            new DeviceRecord("dev-1", new Dictionary<string, string>(), "thumbprint", DateTimeOffset.UnixEpoch, DeviceStatuses.Online, null, null, null),
            CancellationToken.None);
        var broker = new RetainingBroker();
        using var writerA = new DesiredStateWriter(new DistantStore(first), broker, NullLogger<DesiredStateWriter>.Instance);
        using var writerB = new DesiredStateWriter(new DistantStore(second), broker, NullLogger<DesiredStateWriter>.Instance);

        var results = await Task.WhenAll(
            Task.Run(() => WriteManyAsync(writerA, "a")),
            Task.Run(() => WriteManyAsync(writerB, "b")));

        var versions = results.SelectMany(r => r).Select(w => w.Version).Order().ToList();
        Assert.Equal(Enumerable.Range(1, 2 * WritesPerReplica).Select(v => (long)v), versions);
        Assert.All(results, replica => Assert.Equal(replica.Select(w => w.Version).Order(), replica.Select(w => w.Version)));
        var stored = (await first.GetDeviceAsync("dev-1", CancellationToken.None))!.Desired!;
        Assert.Equal(2 * WritesPerReplica, stored.Version);
        Assert.Equal(stored, broker.Retained);

        // Each write reports the document it replaced: the chain of deployments has no gap.
        var byVersion = results.SelectMany(r => r).ToDictionary(w => w.Version);
        for (var version = 2L; version <= 2 * WritesPerReplica; version++)
        {
            Assert.Equal(byVersion[version - 1].DeploymentId, byVersion[version].PreviousDeploymentId);
        }
    }

    private static async Task<List<Written>> WriteManyAsync(DesiredStateWriter writer, string replica)
    {
        var written = new List<Written>();
        for (var i = 0; i < WritesPerReplica; i++)
        {
            var deploymentId = $"dep-{replica}-{i}";
            var model = new ModelReference("models/m", "m", deploymentId, "sha256:" + new string('1', 64), 10, "c2ln");
            var result = await writer.WriteAsync("dev-1", new DeploymentSpec(deploymentId, model), TelemetrySettings.Default, CancellationToken.None);
            written.Add(new Written(result!.Value.Desired.Version, deploymentId, result.Value.Previous?.Version));
        }

        return written;
    }

    /// <summary>
    /// The database a network hop away, as it is for replicas: a read's answer takes a moment to
    /// arrive, so the other replica's write can land between a read and the write that follows it.
    /// </summary>
    private sealed class DistantStore(IDeviceStore inner) : ForwardingDeviceStore(inner)
    {
        public override async Task<DeviceRecord?> GetDeviceAsync(string deviceId, CancellationToken cancellationToken)
        {
            var device = await Inner.GetDeviceAsync(deviceId, cancellationToken);
            await Task.Delay(TimeSpan.FromMilliseconds(1), cancellationToken);
            return device;
        }
    }

    private sealed record Written(long Version, string DeploymentId, string? PreviousDeploymentId);

    /// <summary>Keeps the last document published, as a broker keeps a retained message; yields so publishes interleave.</summary>
    private sealed class RetainingBroker : IDeviceLink
    {
        private readonly Lock _lock = new();

        public DesiredState? Retained { get; private set; }

        public async Task PublishDesiredAsync(string deviceId, DesiredState desired, CancellationToken cancellationToken)
        {
            await Task.Yield();
            lock (_lock)
            {
                Retained = desired;
            }
        }
    }
}

public sealed class SqliteDesiredStateRaceTests() : DesiredStateRaceContract(StoreProvider.Sqlite);

[Trait("Category", "Integration")]
public sealed class PostgresDesiredStateRaceTests() : DesiredStateRaceContract(StoreProvider.Postgres);
