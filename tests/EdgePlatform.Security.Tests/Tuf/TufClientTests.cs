using EdgePlatform.Security.Tuf;
using static EdgePlatform.Security.Tests.Tuf.TufTestData;

namespace EdgePlatform.Security.Tests.Tuf;

public sealed class TufClientTests : IDisposable
{
    private static readonly TimeSpan TimestampLifetime = TimeSpan.FromDays(1);
    private static readonly TimeSpan TargetsLifetime = TimeSpan.FromDays(30);

    private readonly FakeTimeProvider _time = new(Now);
    private readonly TempDirectory _temp = new();
    private readonly TestKeys _keys = new();
    private readonly TufSigningKey _root;
    private readonly TufSigningKey _targets;
    private readonly TufSigningKey _timestamp;
    private readonly byte[] _firstRoot;
    private readonly TufRepository _repository;
    private readonly RepositoryRemote _remote;

    public TufClientTests()
    {
        _root = _keys.New("root");
        _targets = _keys.New("targets");
        _timestamp = _keys.New("timestamp");
        _firstRoot = Sign(RootDocument(1, [_root], [_targets], [_timestamp]), _root);
        _repository = TufRepository.Create(_temp.Sub("server"), _firstRoot);
        _remote = new RepositoryRemote(_repository);
        TufClient.Pin(DeviceDirectory, _firstRoot);
    }

    private string DeviceDirectory => _temp.Sub("device");

    public void Dispose()
    {
        _keys.Dispose();
        _temp.Dispose();
    }

    [Fact]
    public async Task RefreshAsync_ApprovedRelease_ReturnsTargetsThatAuthorizeIt()
    {
        Approve("sensor:1", Entry(DigestA, 1234));

        var targets = await Client().RefreshAsync(CancellationToken.None);

        var entry = TufClient.Authorize(targets, "sensor", "1", "production", DigestA, 1234);
        Assert.Equal(Entry(DigestA, 1234).Repository, entry.Repository);
        Assert.Equal(_repository.TargetsBytes, File.ReadAllBytes(Path.Combine(DeviceDirectory, TufClient.TargetsFile)));
        Assert.Equal(_repository.TimestampBytes, File.ReadAllBytes(Path.Combine(DeviceDirectory, TufClient.TimestampFile)));
    }

    [Fact]
    public async Task RefreshAsync_NewReleaseAfterAnEarlierRefresh_IsSeen()
    {
        var client = Client();
        Approve("sensor:1", Entry(DigestA));
        await client.RefreshAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromHours(1));
        Approve("sensor:2", Entry(DigestB));

        var targets = await client.RefreshAsync(CancellationToken.None);

        Assert.Equal(["sensor:1", "sensor:2"], targets.Targets.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Pin_RootUnderItsOwnThreshold_ThrowsRootSignatureAndPinsNothing()
    {
        var second = _keys.New("root 2");
        var underSigned = Sign(RootDocument(1, [_root, second], [_targets], [_timestamp], rootThreshold: 2), _root);
        var directory = _temp.Sub("other-device");

        var exception = Assert.Throws<TufVerificationException>(() => TufClient.Pin(directory, underSigned));

        Assert.Equal(TufChecks.RootSignature, exception.Check);
        Assert.False(new TufClient(directory, _remote, _time).IsPinned);
    }

    [Fact]
    public async Task RefreshAsync_NothingPinned_ThrowsRootSignature()
    {
        var exception = await Assert.ThrowsAsync<TufVerificationException>(
            () => new TufClient(_temp.Sub("never-enrolled"), _remote, _time).RefreshAsync(CancellationToken.None));

        Assert.Equal(TufChecks.RootSignature, exception.Check);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RefreshAsync_OlderTimestampThanSeen_ThrowsTimestampRollback(bool restarted)
    {
        var client = Client();
        Approve("sensor:1", Entry(DigestA));
        var (oldTimestamp, oldTargets) = (_repository.TimestampBytes!, _repository.TargetsBytes!);
        await client.RefreshAsync(CancellationToken.None);
        Approve("sensor:2", Entry(DigestB));
        await client.RefreshAsync(CancellationToken.None);
        _remote.TimestampServedInstead = oldTimestamp;
        _remote.TargetsServedInstead = oldTargets;

        var exception = await Assert.ThrowsAsync<TufVerificationException>(
            () => (restarted ? Client() : client).RefreshAsync(CancellationToken.None));

        Assert.Equal(TufChecks.TimestampRollback, exception.Check);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RefreshAsync_NewerTimestampNamingOlderTargets_ThrowsTargetsRollback(bool restarted)
    {
        var client = Client();
        Approve("sensor:1", Entry(DigestA));
        var oldTargets = _repository.TargetsBytes!;
        Approve("sensor:2", Entry(DigestB));
        await client.RefreshAsync(CancellationToken.None);

        // A timestamp key that signs whatever it is given can still not take the device back.
        _remote.TimestampServedInstead = Sign(TimestampFor(_repository.Timestamp!.Version + 1, oldTargets, 1, Now.AddDays(1)), _timestamp);
        _remote.TargetsServedInstead = oldTargets;

        var exception = await Assert.ThrowsAsync<TufVerificationException>(
            () => (restarted ? Client() : client).RefreshAsync(CancellationToken.None));

        Assert.Equal(TufChecks.TargetsRollback, exception.Check);
    }

    [Fact]
    public async Task RefreshAsync_InMemoryStoreAfterANewerTimestamp_ThrowsTimestampRollback()
    {
        var store = new InMemoryTufMetadataStore();
        TufClient.Pin(store, _firstRoot);
        var client = new TufClient(store, _remote, _time);
        Approve("sensor:1", Entry(DigestA));
        var (oldTimestamp, oldTargets) = (_repository.TimestampBytes!, _repository.TargetsBytes!);
        await client.RefreshAsync(CancellationToken.None);
        Approve("sensor:2", Entry(DigestB));
        var targets = await client.RefreshAsync(CancellationToken.None);
        _remote.TimestampServedInstead = oldTimestamp;
        _remote.TargetsServedInstead = oldTargets;

        var exception = await Assert.ThrowsAsync<TufVerificationException>(() => new TufClient(store, _remote, _time).RefreshAsync(CancellationToken.None));

        Assert.Equal(TufChecks.TimestampRollback, exception.Check);
        Assert.Equal(targets.Version, new TufClient(store, _remote, _time).TrustedTargets()!.Version);
    }

    [Fact]
    public async Task RefreshAsync_TimestampPastItsExpiry_ThrowsTimestampExpired()
    {
        Approve("sensor:1", Entry(DigestA));
        await Client().RefreshAsync(CancellationToken.None);
        _time.Advance(TimestampLifetime - TimeSpan.FromMinutes(1));
        await Client().RefreshAsync(CancellationToken.None);

        // The repository is frozen: it keeps serving the same, now expired, timestamp.
        _time.Advance(TimeSpan.FromMinutes(1));
        var exception = await Assert.ThrowsAsync<TufVerificationException>(() => Client().RefreshAsync(CancellationToken.None));

        Assert.Equal(TufChecks.TimestampExpired, exception.Check);
    }

    [Fact]
    public async Task RefreshAsync_TargetsPastTheirExpiryWithAFreshTimestamp_ThrowsTargetsExpired()
    {
        Approve("sensor:1", Entry(DigestA));
        _time.Advance(TargetsLifetime + TimeSpan.FromMinutes(1));
        _repository.RefreshTimestamp([_timestamp], TimestampLifetime, _time.GetUtcNow());

        var exception = await Assert.ThrowsAsync<TufVerificationException>(() => Client().RefreshAsync(CancellationToken.None));

        Assert.Equal(TufChecks.TargetsExpired, exception.Check);
    }

    [Fact]
    public async Task RefreshAsync_TargetsOtherThanTheTimestampNames_ThrowsTargetsHash()
    {
        Approve("sensor:1", Entry(DigestA));

        // Newer targets served beside a timestamp that still names the previous ones: a mix.
        _repository.PublishTargets(
            current => new Dictionary<string, TargetEntry>(current!.Targets) { ["sensor:2"] = Entry(DigestB) },
            [_targets],
            TargetsLifetime,
            Now);
        var exception = await Assert.ThrowsAsync<TufVerificationException>(() => Client().RefreshAsync(CancellationToken.None));

        Assert.Equal(TufChecks.TargetsHash, exception.Check);
    }

    [Fact]
    public async Task RefreshAsync_TimestampSignedByTheTargetsKey_ThrowsTimestampSignature()
    {
        Approve("sensor:1", Entry(DigestA));
        _remote.TimestampServedInstead = Sign(TimestampFor(9, _repository.TargetsBytes!, 1, Now.AddDays(1)), _targets);

        var exception = await Assert.ThrowsAsync<TufVerificationException>(() => Client().RefreshAsync(CancellationToken.None));

        Assert.Equal(TufChecks.TimestampSignature, exception.Check);
    }

    [Fact]
    public async Task RefreshAsync_GarbageFromTheRemote_ThrowsMetadataFormat()
    {
        Approve("sensor:1", Entry(DigestA));
        _remote.TimestampServedInstead = "<html>bad gateway</html>"u8.ToArray();

        var exception = await Assert.ThrowsAsync<TufVerificationException>(() => Client().RefreshAsync(CancellationToken.None));

        Assert.Equal(TufChecks.Metadata, exception.Check);
    }

    [Fact]
    public async Task RefreshAsync_SignatureEntryWithoutSig_ThrowsTimestampSignature()
    {
        Approve("sensor:1", Entry(DigestA));
        var honest = System.Text.Encoding.UTF8.GetString(_repository.TimestampBytes!);
        _remote.TimestampServedInstead = System.Text.Encoding.UTF8.GetBytes(
            honest[..honest.IndexOf("\"signatures\":", StringComparison.Ordinal)] + $$"""
                "signatures":[{"keyid":"{{_timestamp.KeyId}}"}]}
                """);

        var exception = await Assert.ThrowsAsync<TufVerificationException>(() => Client().RefreshAsync(CancellationToken.None));

        Assert.Equal(TufChecks.TimestampSignature, exception.Check);
    }

    [Fact]
    public async Task RefreshAsync_RootSignedByTheOldAndTheNewRootKey_FollowsTheRotation()
    {
        Approve("sensor:1", Entry(DigestA));
        var newRoot = _keys.New("root 2");
        var second = Sign(RootDocument(2, [newRoot], [_targets], [_timestamp]), _root, newRoot);
        _repository.AddRoot(second);

        await Client().RefreshAsync(CancellationToken.None);

        Assert.Equal(2, Client().TrustedRoot().Version);
        Assert.Equal(second, File.ReadAllBytes(Path.Combine(DeviceDirectory, TufClient.RootFile)));
    }

    [Fact]
    public async Task RefreshAsync_TwoRotationsInARow_EndsOnTheNewest()
    {
        Approve("sensor:1", Entry(DigestA));
        var two = _keys.New("root 2");
        var three = _keys.New("root 3");
        _repository.AddRoot(Sign(RootDocument(2, [two], [_targets], [_timestamp]), _root, two));
        _repository.AddRoot(Sign(RootDocument(3, [three], [_targets], [_timestamp]), two, three));

        await Client().RefreshAsync(CancellationToken.None);

        Assert.Equal([three.KeyId], Client().TrustedRoot().Roles[TufRoles.Root].KeyIds);
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public async Task RefreshAsync_RotationMissingASignature_ThrowsRootSignatureAndKeepsTheOldRoot(bool signedByOld, bool signedByNew)
    {
        Approve("sensor:1", Entry(DigestA));
        var newRoot = _keys.New("root 2");
        TufSigningKey[] signers = [.. signedByOld ? [_root] : Array.Empty<TufSigningKey>(), .. signedByNew ? [newRoot] : Array.Empty<TufSigningKey>()];
        _remote.RootsServedInstead[2] = Sign(RootDocument(2, [newRoot], [_targets], [_timestamp]), signers);

        var exception = await Assert.ThrowsAsync<TufVerificationException>(() => Client().RefreshAsync(CancellationToken.None));

        Assert.Equal(TufChecks.RootSignature, exception.Check);
        Assert.Equal(1, Client().TrustedRoot().Version);
    }

    [Fact]
    public async Task RefreshAsync_RootServedUnderTheWrongVersion_ThrowsRootVersion()
    {
        Approve("sensor:1", Entry(DigestA));
        _remote.RootsServedInstead[2] = Sign(RootDocument(3, [_root], [_targets], [_timestamp]), _root);

        var exception = await Assert.ThrowsAsync<TufVerificationException>(() => Client().RefreshAsync(CancellationToken.None));

        Assert.Equal(TufChecks.RootVersion, exception.Check);
    }

    [Fact]
    public async Task RefreshAsync_AfterRotationToNewTargetsKeys_RefusesTargetsSignedByTheOldKey()
    {
        Approve("sensor:1", Entry(DigestA));
        await Client().RefreshAsync(CancellationToken.None);
        var newTargets = _keys.New("targets 2");
        _repository.AddRoot(Sign(RootDocument(2, [_root], [newTargets], [_timestamp]), _root));

        var exception = await Assert.ThrowsAsync<TufVerificationException>(() => Client().RefreshAsync(CancellationToken.None));

        Assert.Equal(TufChecks.TargetsSignature, exception.Check);
        Assert.Equal(2, Client().TrustedRoot().Version);

        // Re-signed with the new key, the same release is accepted again.
        _repository.PublishTargets(current => current!.Targets, [newTargets], TargetsLifetime, Now);
        _repository.RefreshTimestamp([_timestamp], TimestampLifetime, Now);
        var targets = await Client().RefreshAsync(CancellationToken.None);
        TufClient.Authorize(targets, "sensor", "1", "production", DigestA, 100);
    }

    [Fact]
    public async Task RefreshAsync_RootPastItsExpiry_ThrowsRootExpired()
    {
        Approve("sensor:1", Entry(DigestA));
        _time.Advance(TimeSpan.FromDays(366));

        var exception = await Assert.ThrowsAsync<TufVerificationException>(() => Client().RefreshAsync(CancellationToken.None));

        Assert.Equal(TufChecks.RootExpired, exception.Check);
    }

    [Fact]
    public void Authorize_ApprovedRelease_ReturnsItsEntry()
    {
        var entry = TufClient.Authorize(ApprovedTargets(), "sensor", "1", "production", DigestA, 100);

        Assert.Equal(DigestA, entry.Digest);
    }

    [Theory]
    [InlineData("other", "1", "production", "a", 100, TufChecks.TargetUnknown)]
    [InlineData("sensor", "2", "production", "a", 100, TufChecks.TargetUnknown)]
    [InlineData("sensor", "1", "canary", "a", 100, TufChecks.TargetChannel)]
    [InlineData("sensor", "1", "production", "b", 100, TufChecks.TargetDigest)]
    [InlineData("sensor", "1", "production", "a", 101, TufChecks.TargetLength)]
    public void Authorize_ReleaseNotApprovedAsAsked_ThrowsNamingTheCheck(string name, string version, string channel, string digestLetter, long length, string check)
    {
        var digest = "sha256:" + new string(digestLetter[0], 64);

        var exception = Assert.Throws<TufVerificationException>(() => TufClient.Authorize(ApprovedTargets(), name, version, channel, digest, length));

        Assert.Equal(check, exception.Check);
    }

    private static TargetsMetadata ApprovedTargets() => Targets(4, ("sensor:1", Entry(DigestA, 100, "production", "staging")));

    private TufClient Client() => new(DeviceDirectory, _remote, _time);

    private void Approve(string release, TargetEntry entry)
    {
        var now = _time.GetUtcNow();
        _repository.PublishTargets(
            current => new Dictionary<string, TargetEntry>(current?.Targets ?? new Dictionary<string, TargetEntry>()) { [release] = entry },
            [_targets],
            TargetsLifetime,
            now);
        _repository.RefreshTimestamp([_timestamp], TimestampLifetime, now);
    }
}
