using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Tests.Fakes;
using Microsoft.Extensions.Logging.Abstractions;
using NSubstitute;

namespace EdgePlatform.ControlPlane.Tests.Devices;

public sealed class FleetServiceTagTests
{
    private readonly InMemoryStore _store = new();
    private readonly FleetService _fleet;

    public FleetServiceTagTests()
    {
        _fleet = new FleetService(_store, Substitute.For<IDeviceSessions>(), Microsoft.Extensions.Options.Options.Create(new EnrollmentOptions()), new FakeTimeProvider(DateTimeOffset.UnixEpoch), NullLogger<FleetService>.Instance);
        _store.AddDevice("dev-1");
    }

    [Fact]
    public async Task SetTagsAsync_ValidTags_ReplacesTheSetAndKeepsTheCertificate()
    {
        await _fleet.SetTagsAsync("dev-1", new SetTagsRequest(new Dictionary<string, string> { ["site"] = "berlin" }), "ops", CancellationToken.None);

        var info = await _fleet.SetTagsAsync("dev-1", new SetTagsRequest(new Dictionary<string, string> { ["hw"] = "pi4" }), "ops", CancellationToken.None);

        var stored = await _store.GetDeviceAsync("dev-1", CancellationToken.None);
        Assert.Equal(new Dictionary<string, string> { ["hw"] = "pi4" }, stored!.Tags);
        Assert.Equal("hash", stored.CertificateThumbprint);
        Assert.Equal("pi4", info.Tags["hw"]);
    }

    [Fact]
    public async Task SetTagsAsync_UnknownDevice_ThrowsNotFound()
    {
        await Assert.ThrowsAsync<NotFoundException>(
            () => _fleet.SetTagsAsync("dev-9", new SetTagsRequest(new Dictionary<string, string>()), "ops", CancellationToken.None));
    }

    [Fact]
    public async Task SetTagsAsync_EmptyKeyOrNoBody_ThrowsValidationOnTags()
    {
        var badKey = await Assert.ThrowsAsync<RequestValidationException>(
            () => _fleet.SetTagsAsync("dev-1", new SetTagsRequest(new Dictionary<string, string> { [" "] = "x" }), "ops", CancellationToken.None));
        var noBody = await Assert.ThrowsAsync<RequestValidationException>(
            () => _fleet.SetTagsAsync("dev-1", null, "ops", CancellationToken.None));

        Assert.Equal("tags", badKey.Field);
        Assert.Equal("tags", noBody.Field);
    }
}
