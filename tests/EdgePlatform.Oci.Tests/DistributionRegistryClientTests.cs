namespace EdgePlatform.Oci.Tests;

/// <summary>The client against the CNCF distribution registry, the scale-out profile's registry.</summary>
[Trait("Category", "Integration")]
public sealed class DistributionRegistryClientTests(DistributionRegistryFixture registry)
    : OciDistributionClientContract, IClassFixture<DistributionRegistryFixture>
{
    protected override OciDistributionClient Client { get; } = new(registry.Http, registry.Registry);
}
