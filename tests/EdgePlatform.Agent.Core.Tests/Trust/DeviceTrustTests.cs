using EdgePlatform.Agent.Core.Trust;
using EdgePlatform.Security.Tuf;

namespace EdgePlatform.Agent.Core.Tests.Trust;

public sealed class DeviceTrustTests : IDisposable
{
    private readonly TempDirectory _data = new();
    private readonly ManualTimeProvider _clock = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly TestPublisher _publisher;

    public DeviceTrustTests()
    {
        _publisher = new TestPublisher(_clock);
    }

    public void Dispose()
    {
        _publisher.Dispose();
        _data.Dispose();
    }

    [Fact]
    public async Task RefreshAsync_NotEnrolledYet_EnrollsBeforeFetchingMetadata()
    {
        var directory = Path.Combine(_data.Path, "trust");
        var client = new TufClient(directory, _publisher.Remote, _clock);
        var requestsWhenEnrolling = -1;
        using var trust = new DeviceTrust(client, _ =>
        {
            requestsWhenEnrolling = _publisher.Remote.Requests;
            TufClient.Pin(directory, _publisher.FirstRoot);
            return Task.CompletedTask;
        });

        var metadata = await trust.RefreshAsync(CancellationToken.None);

        Assert.Equal(0, requestsWhenEnrolling);
        Assert.Equal(1, metadata.Root.Version);
        Assert.Equal(_publisher.Tuf.Targets!.Version, metadata.Targets.Version);
    }

    [Fact]
    public async Task RefreshAsync_AfterRotation_ReturnsTheNewRootWithTheTargetsItVerified()
    {
        var trust = _publisher.NewDeviceTrust(_data.Path);
        var newTargets = _publisher.NewKey("targets-2025");
        _publisher.Rotate(_publisher.NewKey("root-2025"), [newTargets]);

        var metadata = await trust.RefreshAsync(CancellationToken.None);

        Assert.Equal(2, metadata.Root.Version);
        Assert.Equal([newTargets.KeyId], metadata.Root.Roles[TufRoles.Targets].KeyIds);
        Assert.Equal(_publisher.Tuf.Targets!.Version, metadata.Targets.Version);
    }

    [Fact]
    public async Task TrustedRootAsync_MetadataServerOffline_ReturnsTheNewestVerifiedRootFromDisk()
    {
        var trust = _publisher.NewDeviceTrust(_data.Path);
        _publisher.Rotate(_publisher.RootKey, [_publisher.NewKey("targets-2025")]);
        await trust.RefreshAsync(CancellationToken.None);
        _publisher.Remote.Offline = true;
        var requests = _publisher.Remote.Requests;

        var root = await _publisher.NewDeviceTrust(_data.Path).TrustedRootAsync(CancellationToken.None);

        Assert.Equal(2, root.Version);
        Assert.Equal(requests, _publisher.Remote.Requests);
    }
}
