using EdgePlatform.ControlPlane.Host.Artifacts;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Host.Tests.Artifacts;

public sealed class ArtifactOptionsTests
{
    [Theory]
    [InlineData("s3", null, null, "Artifacts:Provider must be 'disk' or 'azure'")]
    [InlineData("azure", null, null, "Artifacts:ConnectionString is required when Artifacts:Provider is 'azure'")]
    [InlineData("azure", "not a connection string", null, "Artifacts:ConnectionString is not an Azure Storage connection string")]
    [InlineData("azure", "UseDevelopmentStorage=true", "Models_2", "Artifacts:Container 'Models_2' is not a container name")]
    public async Task Start_InvalidArtifactSettings_FailsNamingTheSetting(string provider, string? connectionString, string? container, string expected)
    {
        var settings = new Dictionary<string, string> { ["Artifacts:Provider"] = provider };
        if (connectionString is not null)
        {
            settings["Artifacts:ConnectionString"] = connectionString;
        }

        if (container is not null)
        {
            settings["Artifacts:Container"] = container;
        }

        await using var server = ControlPlaneFactory.With(settings);

        var refused = Assert.ThrowsAny<OptionsValidationException>(() => server.Services);

        Assert.Contains(expected, refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_NoArtifactSettings_KeepsBlobsInTheDataDirectory()
    {
        await using var server = new ControlPlaneFactory();

        var store = server.Services.GetRequiredService<IArtifactStore>();

        var digest = await store.PutAsync(new byte[] { 1, 2, 3 }, CancellationToken.None);
        Assert.IsType<FileSystemArtifactStore>(store);
        Assert.True(File.Exists(Path.Combine(server.DataDirectory, "blobs", "sha256", EdgePlatform.Contracts.ContentDigest.Hex(digest))));
    }
}
