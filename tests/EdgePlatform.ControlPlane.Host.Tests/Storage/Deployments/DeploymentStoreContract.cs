using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Storage;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage.Deployments;

public abstract class DeploymentStoreContract(StoreProvider provider) : StoreContract(provider)
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task ListDeploymentsAsync_AfterAdd_ReturnsTheTargetsOldestFirst()
    {
        var deployment = new DeploymentInfo("dep-2", "m", "1", "sha256:" + new string('a', 64), ["dev-1", "dev-2"], Now);
        await Stores.Deployments.AddDeploymentAsync(deployment, CancellationToken.None);
        await Stores.Deployments.AddDeploymentAsync(deployment with { Id = "dep-1", Devices = [], CreatedAt = Now.AddMinutes(-1) }, CancellationToken.None);

        var listed = await Stores.Deployments.ListDeploymentsAsync(CancellationToken.None);

        Assert.Equal(["dep-1", "dep-2"], listed.Select(d => d.Id));
        Assert.Equal(deployment.Devices, listed[1].Devices);
        Assert.Equal(deployment with { Devices = [] }, listed[1] with { Devices = [] });
    }
}

public sealed class SqliteDeploymentStoreTests() : DeploymentStoreContract(StoreProvider.Sqlite);

[Trait("Category", "Integration")]
public sealed class PostgresDeploymentStoreTests() : DeploymentStoreContract(StoreProvider.Postgres);
