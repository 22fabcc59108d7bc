using System.Security.Cryptography;
using EdgePlatform.Security.Tuf;
using static EdgePlatform.Security.Tests.Tuf.TufTestData;

namespace EdgePlatform.Security.Tests.Tuf;

public sealed class TufRepositoryTests : IDisposable
{
    private static readonly TimeSpan Day = TimeSpan.FromDays(1);

    private readonly TempDirectory _temp = new();
    private readonly TestKeys _keys = new();
    private readonly TufSigningKey _root;
    private readonly TufSigningKey _targets;
    private readonly TufSigningKey _timestamp;

    public TufRepositoryTests()
    {
        _root = _keys.New("root");
        _targets = _keys.New("targets");
        _timestamp = _keys.New("timestamp");
    }

    private string TrustDirectory => _temp.Sub("trust");

    public void Dispose()
    {
        _keys.Dispose();
        _temp.Dispose();
    }

    [Fact]
    public void Create_SelfSignedFirstRoot_StoresItByteForByte()
    {
        var first = Sign(RootDocument(1, [_root], [_targets], [_timestamp]), _root);

        var repository = TufRepository.Create(TrustDirectory, first);

        Assert.True(TufRepository.Exists(TrustDirectory));
        Assert.Equal(1, repository.RootVersion);
        Assert.Equal(first, repository.RootBytes(1));
        Assert.Equal(first, File.ReadAllBytes(Path.Combine(TrustDirectory, "root", "1.json")));
        Assert.Null(repository.RootBytes(2));
        Assert.Null(repository.TargetsBytes);
        Assert.Null(repository.TimestampBytes);
    }

    [Fact]
    public void Create_FirstRootOfVersionTwo_ThrowsRootVersion()
    {
        var exception = Assert.Throws<TufVerificationException>(
            () => TufRepository.Create(TrustDirectory, Sign(RootDocument(2, [_root], [_targets], [_timestamp]), _root)));

        Assert.Equal(TufChecks.RootVersion, exception.Check);
        Assert.False(TufRepository.Exists(TrustDirectory));
    }

    [Fact]
    public void Create_RootSignedByOneOfTwoRequiredRootKeys_ThrowsRootSignature()
    {
        var second = _keys.New("root 2");
        var document = RootDocument(1, [_root, second], [_targets], [_timestamp], rootThreshold: 2);

        var exception = Assert.Throws<TufVerificationException>(() => TufRepository.Create(TrustDirectory, Sign(document, _root)));

        Assert.Equal(TufChecks.RootSignature, exception.Check);
        Assert.False(TufRepository.Exists(TrustDirectory));
    }

    [Fact]
    public void Create_RootSignedByANonRootKey_ThrowsRootSignature()
    {
        var exception = Assert.Throws<TufVerificationException>(
            () => TufRepository.Create(TrustDirectory, Sign(RootDocument(1, [_root], [_targets], [_timestamp]), _targets)));

        Assert.Equal(TufChecks.RootSignature, exception.Check);
    }

    [Fact]
    public void Open_NoMetadata_ThrowsTufFormatException()
    {
        Assert.Throws<TufFormatException>(() => TufRepository.Open(TrustDirectory));
    }

    [Fact]
    public void AddRoot_SignedByTheOldAndTheNewRootKey_BecomesTheCurrentRoot()
    {
        var repository = Created();
        var newRoot = _keys.New("root 2");
        var next = Sign(RootDocument(2, [newRoot], [_targets], [_timestamp]), _root, newRoot);

        var added = repository.AddRoot(next);

        Assert.Equal(2, added.Version);
        Assert.Equal(2, repository.RootVersion);
        Assert.Equal(next, repository.RootBytes(2));
        Assert.Equal([newRoot.KeyId], repository.Root.Roles[TufRoles.Root].KeyIds);
        Assert.Equal(2, TufRepository.Open(TrustDirectory).RootVersion);
    }

    [Fact]
    public void AddRoot_SignedOnlyByTheNewRootKey_ThrowsRootSignatureAndKeepsTheOldRoot()
    {
        var repository = Created();
        var newRoot = _keys.New("root 2");

        var exception = Assert.Throws<TufVerificationException>(
            () => repository.AddRoot(Sign(RootDocument(2, [newRoot], [_targets], [_timestamp]), newRoot)));

        Assert.Equal(TufChecks.RootSignature, exception.Check);
        Assert.Equal(1, repository.RootVersion);
        Assert.Null(repository.RootBytes(2));
    }

    [Fact]
    public void AddRoot_SignedOnlyByTheOldRootKey_ThrowsRootSignature()
    {
        var repository = Created();
        var newRoot = _keys.New("root 2");

        var exception = Assert.Throws<TufVerificationException>(
            () => repository.AddRoot(Sign(RootDocument(2, [newRoot], [_targets], [_timestamp]), _root)));

        Assert.Equal(TufChecks.RootSignature, exception.Check);
        Assert.Equal(1, repository.RootVersion);
    }

    [Fact]
    public void AddRoot_OldThresholdOfTwoMetByOneKey_ThrowsRootSignature()
    {
        var second = _keys.New("root 2");
        var repository = TufRepository.Create(TrustDirectory, Sign(RootDocument(1, [_root, second], [_targets], [_timestamp], rootThreshold: 2), _root, second));

        var exception = Assert.Throws<TufVerificationException>(
            () => repository.AddRoot(Sign(RootDocument(2, [_root], [_targets], [_timestamp]), _root)));

        Assert.Equal(TufChecks.RootSignature, exception.Check);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void AddRoot_VersionThatDoesNotFollow_ThrowsRootVersion(long version)
    {
        var repository = Created();

        var exception = Assert.Throws<TufVerificationException>(
            () => repository.AddRoot(Sign(RootDocument(version, [_root], [_targets], [_timestamp]), _root)));

        Assert.Equal(TufChecks.RootVersion, exception.Check);
        Assert.Equal(1, repository.RootVersion);
    }

    [Fact]
    public void PublishTargets_SignedDocumentOfAHigherVersion_IsStoredByteForByte()
    {
        var repository = Created();
        var v1 = Sign(Targets(1, ("sensor:1", Entry(DigestA))), _targets);
        var v3 = Sign(Targets(3, ("sensor:1", Entry(DigestA)), ("sensor:2", Entry(DigestB))), _targets);

        repository.PublishTargets(v1);
        var published = repository.PublishTargets(v3);

        Assert.Equal(3, published.Version);
        Assert.Equal(v3, repository.TargetsBytes);
        Assert.Equal(DigestB, repository.Targets!.Targets["sensor:2"].Digest);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void PublishTargets_LowerOrEqualVersion_ThrowsTargetsRollback(long version)
    {
        var repository = Created();
        var current = Sign(Targets(2, ("sensor:1", Entry(DigestA))), _targets);
        repository.PublishTargets(current);

        var exception = Assert.Throws<TufVerificationException>(
            () => repository.PublishTargets(Sign(Targets(version, ("sensor:1", Entry(DigestB))), _targets)));

        Assert.Equal(TufChecks.TargetsRollback, exception.Check);
        Assert.Equal(current, repository.TargetsBytes);
    }

    [Fact]
    public void PublishTargets_SignedByTheTimestampKey_ThrowsTargetsSignature()
    {
        var repository = Created();

        var exception = Assert.Throws<TufVerificationException>(
            () => repository.PublishTargets(Sign(Targets(1, ("sensor:1", Entry(DigestA))), _timestamp)));

        Assert.Equal(TufChecks.TargetsSignature, exception.Check);
        Assert.Null(repository.TargetsBytes);
    }

    [Fact]
    public void PublishTargets_OneOfTwoRequiredTargetsKeys_ThrowsTargetsSignature()
    {
        var second = _keys.New("targets 2");
        var repository = TufRepository.Create(TrustDirectory, Sign(RootDocument(1, [_root], [_targets, second], [_timestamp], targetsThreshold: 2), _root));

        var exception = Assert.Throws<TufVerificationException>(
            () => repository.PublishTargets(current => new Dictionary<string, TargetEntry>(), [second], Day, Now));

        Assert.Equal(TufChecks.TargetsSignature, exception.Check);
        Assert.Equal(1, repository.PublishTargets(current => new Dictionary<string, TargetEntry>(), [_targets, second], Day, Now).Version);
    }

    [Fact]
    public void PublishTargets_Change_SeesTheCurrentEntriesAndCountsTheVersionUp()
    {
        var repository = Created();
        repository.PublishTargets(_ => new Dictionary<string, TargetEntry> { ["sensor:1"] = Entry(DigestA) }, [_targets], Day, Now);

        var next = repository.PublishTargets(
            current => new Dictionary<string, TargetEntry>(current!.Targets) { ["sensor:2"] = Entry(DigestB) },
            [_targets],
            Day,
            Now.AddHours(1));

        Assert.Equal(2, next.Version);
        Assert.Equal(Now.AddHours(1) + Day, next.Expires);
        Assert.Equal(["sensor:1", "sensor:2"], next.Targets.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void RefreshTimestamp_PinsTheTargetsFileByVersionLengthAndHash()
    {
        var repository = Created();
        repository.PublishTargets(_ => new Dictionary<string, TargetEntry> { ["sensor:1"] = Entry(DigestA) }, [_targets], Day, Now);

        var first = repository.RefreshTimestamp([_timestamp], Day, Now);
        var second = repository.RefreshTimestamp([_timestamp], Day, Now.AddHours(1));

        var targetsFile = repository.TargetsBytes!;
        Assert.Equal(new MetaFile(1, targetsFile.Length, Convert.ToHexStringLower(SHA256.HashData(targetsFile))), second.Targets);
        Assert.Equal((1L, 2L), (first.Version, second.Version));
        Assert.Equal(Now.AddHours(1) + Day, second.Expires);
        Assert.Equal(second, repository.Timestamp);
    }

    [Fact]
    public void RefreshTimestamp_SignedByTheTargetsKey_ThrowsTimestampSignatureAndWritesNothing()
    {
        var repository = Created();
        repository.PublishTargets(_ => new Dictionary<string, TargetEntry>(), [_targets], Day, Now);

        var exception = Assert.Throws<TufVerificationException>(() => repository.RefreshTimestamp([_targets], Day, Now));

        Assert.Equal(TufChecks.TimestampSignature, exception.Check);
        Assert.Null(repository.TimestampBytes);
    }

    [Fact]
    public void RefreshTimestamp_NoTargetsYet_ThrowsTufFormatException()
    {
        Assert.Throws<TufFormatException>(() => Created().RefreshTimestamp([_timestamp], Day, Now));
    }

    [Fact]
    public void NewRoot_ThresholdAboveTheNumberOfKeys_ThrowsArgumentException()
    {
        Assert.Throws<ArgumentException>(() => RootDocument(1, [_root], [_targets], [_timestamp], rootThreshold: 2));
    }

    private TufRepository Created() => TufRepository.Create(TrustDirectory, Sign(RootDocument(1, [_root], [_targets], [_timestamp]), _root));
}
