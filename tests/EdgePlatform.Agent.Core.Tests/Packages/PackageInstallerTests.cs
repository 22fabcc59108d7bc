using EdgePlatform.Agent.Core.Packages;
using EdgePlatform.Security;
using EdgePlatform.Security.Tuf;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgePlatform.Agent.Core.Tests.Packages;

public sealed class PackageInstallerTests : IDisposable
{
    private readonly TempDirectory _data = new();
    private readonly ManualTimeProvider _clock = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly TestPublisher _publisher;
    private readonly FakeRegistryClient _registry = new();
    private readonly LocalModelStore _store;
    private readonly PackageInstaller _installer;

    public PackageInstallerTests()
    {
        _publisher = new TestPublisher(_clock);
        _store = new LocalModelStore(_data.Path);
        _installer = NewInstaller();
    }

    public void Dispose()
    {
        _publisher.Dispose();
        _data.Dispose();
    }

    [Fact]
    public async Task InstallAsync_ValidPackage_ReturnsCardAndVerifiedModelFile()
    {
        var package = Publish("sensor-anomaly", "1.0.0");

        var installed = await _installer.InstallAsync(package.Reference, CancellationToken.None);

        Assert.Equal(package.Reference, installed.Reference);
        Assert.Equal("sensor-anomaly", installed.Card.Name);
        Assert.Equal("1.0.0", installed.Card.Version);
        Assert.Equal("temperature", Assert.Single(installed.Card.Inputs).Field);
        Assert.Equal(_store.PathOf(package.OnnxDigest), installed.ModelPath);
        Assert.Equal(package.ModelBytes, await File.ReadAllBytesAsync(installed.ModelPath));
        Assert.True(_store.Contains(package.Reference.ManifestDigest));
        Assert.True(_store.Contains(package.CardDigest));
    }

    [Fact]
    public async Task InstallAsync_SameReferenceTwice_PullsNothingTheSecondTime()
    {
        var package = Publish("sensor-anomaly", "1.0.0");
        await _installer.InstallAsync(package.Reference, CancellationToken.None);
        Assert.Single(_registry.ManifestPulls);
        Assert.Equal(2, _registry.BlobPulls.Count);

        var again = await _installer.InstallAsync(package.Reference, CancellationToken.None);

        Assert.Single(_registry.ManifestPulls);
        Assert.Equal(2, _registry.BlobPulls.Count);
        Assert.Equal(_store.PathOf(package.OnnxDigest), again.ModelPath);
    }

    [Fact]
    public async Task InstallAsync_DownloadInterrupted_NextAttemptResumesFromTheBytesKept()
    {
        var package = Publish("sensor-anomaly", "1.0.0");
        var cut = package.ModelBytes.Length / 2;
        var attempts = 0;
        _registry.ServeBlob(package.OnnxDigest, () => ++attempts == 1
            ? new BreakingStream(package.ModelBytes, cut)
            : new MemoryStream(package.ModelBytes, writable: false));

        await Assert.ThrowsAsync<IOException>(() => _installer.InstallAsync(package.Reference, CancellationToken.None));
        var installed = await _installer.InstallAsync(package.Reference, CancellationToken.None);

        Assert.Equal(package.ModelBytes, await File.ReadAllBytesAsync(installed.ModelPath));
        Assert.Equal(cut, _registry.Offsets.Last());
    }

    [Fact]
    public async Task InstallAsync_RegistryIgnoresRange_RestartsFromZeroAndStillVerifies()
    {
        var package = Publish("sensor-anomaly", "1.0.0");
        var cut = package.ModelBytes.Length / 3;
        var attempts = 0;
        _registry.ServeBlob(package.OnnxDigest, () => ++attempts == 1
            ? new BreakingStream(package.ModelBytes, cut)
            : new NonSeekableStream(package.ModelBytes));

        await Assert.ThrowsAsync<IOException>(() => _installer.InstallAsync(package.Reference, CancellationToken.None));
        var installed = await _installer.InstallAsync(package.Reference, CancellationToken.None);

        Assert.Equal(package.ModelBytes, await File.ReadAllBytesAsync(installed.ModelPath));
    }

    [Fact]
    public async Task InstallAsync_DeploymentWithoutSignature_UsesTheSignatureTagInTheRegistry()
    {
        var package = Publish("sensor-anomaly", "1.0.0");
        _registry.ServeSignature(package.Reference.ManifestDigest, Convert.FromBase64String(package.Reference.Signature));

        var installed = await _installer.InstallAsync(package.Reference with { Signature = string.Empty }, CancellationToken.None);

        Assert.Equal(package.ModelBytes, await File.ReadAllBytesAsync(installed.ModelPath));
    }

    [Fact]
    public async Task InstallAsync_NoSignatureAnywhere_RejectsSignature()
    {
        var package = Publish("sensor-anomaly", "1.0.0");

        var refused = await Assert.ThrowsAsync<PackageRejectedException>(
            () => _installer.InstallAsync(package.Reference with { Signature = string.Empty }, CancellationToken.None));

        Assert.Equal(VerificationChecks.Signature, refused.Check);
        Assert.Contains(".sig", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InstallAsync_StoredBlobAlteredOnDisk_PullsItAgain()
    {
        var package = Publish("sensor-anomaly", "1.0.0");
        await _installer.InstallAsync(package.Reference, CancellationToken.None);
        await FlipFirstByteAsync(_store.PathOf(package.OnnxDigest));

        var installed = await _installer.InstallAsync(package.Reference, CancellationToken.None);

        Assert.Equal(3, _registry.BlobPulls.Count);
        Assert.Equal(package.OnnxDigest, _registry.BlobPulls.Last());
        Assert.Equal(package.ModelBytes, await File.ReadAllBytesAsync(installed.ModelPath));
    }

    [Fact]
    public async Task InstallAsync_ModelBlobChangedAtRegistry_RejectsLayerDigestAndStoresNothingUnderIt()
    {
        var package = Publish("sensor-anomaly", "1.0.0");
        var tampered = package.ModelBytes.ToArray();
        tampered[^1] ^= 0x01;
        _registry.ServeBlob(package.OnnxDigest, tampered);

        var error = await Assert.ThrowsAsync<PackageRejectedException>(() => _installer.InstallAsync(package.Reference, CancellationToken.None));

        Assert.Equal(VerificationChecks.LayerDigest, error.Check);
        Assert.Contains(package.OnnxDigest, error.Message, StringComparison.Ordinal);
        Assert.False(_store.Contains(package.OnnxDigest));
        Assert.False(File.Exists(_store.PathOf(package.OnnxDigest)));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_data.Path, "models", "incoming")));
    }

    [Fact]
    public async Task InstallAsync_BlobLongerThanSigned_RejectsLayerSizeReadingAtMostOneBytePastIt()
    {
        var package = Publish("sensor-anomaly", "1.0.0");
        var endless = new EndlessStream();
        _registry.ServeBlob(package.OnnxDigest, () => endless);

        var error = await Assert.ThrowsAsync<PackageRejectedException>(() => _installer.InstallAsync(package.Reference, CancellationToken.None));

        Assert.Equal(VerificationChecks.LayerSize, error.Check);
        Assert.Equal(package.ModelBytes.Length + 1, endless.BytesRead);
        Assert.False(_store.Contains(package.OnnxDigest));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_data.Path, "models", "incoming")));
    }

    [Fact]
    public async Task InstallAsync_BlobShorterThanSigned_RejectsLayerSize()
    {
        var package = Publish("sensor-anomaly", "1.0.0");
        _registry.ServeBlob(package.OnnxDigest, package.ModelBytes[..^1]);

        var error = await Assert.ThrowsAsync<PackageRejectedException>(() => _installer.InstallAsync(package.Reference, CancellationToken.None));

        Assert.Equal(VerificationChecks.LayerSize, error.Check);
        Assert.False(_store.Contains(package.OnnxDigest));
    }

    [Fact]
    public async Task InstallAsync_ManifestBytesDifferFromPinnedDigest_RejectsManifestDigestBeforePullingBlobs()
    {
        var package = Publish("sensor-anomaly", "1.0.0");
        var other = package.ManifestBytes.ToArray();
        other[^2] ^= 0x01;
        _registry.ServeManifest(package.Reference.ManifestDigest, other);

        var error = await Assert.ThrowsAsync<PackageRejectedException>(() => _installer.InstallAsync(package.Reference, CancellationToken.None));

        Assert.Equal(VerificationChecks.ManifestDigest, error.Check);
        Assert.False(_store.Contains(package.Reference.ManifestDigest));
        Assert.Empty(_registry.BlobPulls);
    }

    [Fact]
    public async Task InstallAsync_ManifestLongerThanPinnedSize_RejectsManifestSize()
    {
        var package = Publish("sensor-anomaly", "1.0.0");
        _registry.ServeManifest(package.Reference.ManifestDigest, [.. package.ManifestBytes, (byte)' ']);

        var error = await Assert.ThrowsAsync<PackageRejectedException>(() => _installer.InstallAsync(package.Reference, CancellationToken.None));

        Assert.Equal(VerificationChecks.ManifestSize, error.Check);
        Assert.False(_store.Contains(package.Reference.ManifestDigest));
        Assert.Empty(_registry.BlobPulls);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(PackageInstaller.MaxManifestBytes + 1)]
    public async Task InstallAsync_ApprovedSizeOutOfRange_RejectsManifestSizeWithoutPulling(long size)
    {
        var package = _publisher.Build("sensor-anomaly", "1.0.0");
        _registry.Publish(package);
        _publisher.Approve(package.Release, TestPublisher.Entry(package) with { Length = size });

        var error = await Assert.ThrowsAsync<PackageRejectedException>(
            () => _installer.InstallAsync(package.Reference with { ManifestSize = size }, CancellationToken.None));

        Assert.Equal(VerificationChecks.ManifestSize, error.Check);
        Assert.Equal(0, _registry.Pulls);
    }

    [Fact]
    public async Task InstallAsync_ManifestSignedByKeysThatAreNotTargetsKeys_RejectsSignatureBeforePullingBlobs()
    {
        var stranger = _publisher.NewKey("someone else's key");
        var package = Publish("sensor-anomaly", "1.0.0", _publisher.Build("sensor-anomaly", "1.0.0", signers: [stranger]));

        var error = await Assert.ThrowsAsync<PackageRejectedException>(() => _installer.InstallAsync(package.Reference, CancellationToken.None));

        Assert.Equal(VerificationChecks.Signature, error.Check);
        Assert.False(_store.Contains(package.Reference.ManifestDigest));
        Assert.Empty(_registry.BlobPulls);
    }

    [Fact]
    public async Task InstallAsync_ManifestSignedByTimestampKey_RejectsSignature()
    {
        var package = Publish("sensor-anomaly", "1.0.0", _publisher.Build("sensor-anomaly", "1.0.0", signers: [_publisher.TimestampKey]));

        var error = await Assert.ThrowsAsync<PackageRejectedException>(() => _installer.InstallAsync(package.Reference, CancellationToken.None));

        Assert.Equal(VerificationChecks.Signature, error.Check);
    }

    [Fact]
    public async Task InstallAsync_ReleaseNotInSignedTargets_RejectsTargetUnknownWithoutPulling()
    {
        var package = _publisher.Build("sensor-anomaly", "1.0.0");
        _registry.Publish(package);

        var error = await Assert.ThrowsAsync<PackageRejectedException>(() => _installer.InstallAsync(package.Reference, CancellationToken.None));

        Assert.Equal(TufChecks.TargetUnknown, error.Check);
        Assert.Contains("sensor-anomaly:1.0.0", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, _registry.Pulls);
    }

    [Fact]
    public async Task InstallAsync_MetadataServerUnreachable_ThrowsWithoutPulling()
    {
        var package = Publish("sensor-anomaly", "1.0.0");
        _publisher.Remote.Offline = true;

        await Assert.ThrowsAsync<HttpRequestException>(() => _installer.InstallAsync(package.Reference, CancellationToken.None));

        Assert.Equal(0, _registry.Pulls);
        Assert.False(_store.Contains(package.Reference.ManifestDigest));
    }

    [Fact]
    public async Task InstallAsync_ManifestSignedByOneKeyOfTwoRequired_RejectsSignature()
    {
        using var publisher = new TestPublisher(_clock, targetsKeys: 2, targetsThreshold: 2);
        using var data = new TempDirectory();
        var installer = NewInstaller(publisher, data);
        var package = publisher.Build("sensor-anomaly", "1.0.0", signers: [publisher.TargetsKeys[0]]);
        _registry.Publish(package);
        publisher.Approve(package);

        var error = await Assert.ThrowsAsync<PackageRejectedException>(() => installer.InstallAsync(package.Reference, CancellationToken.None));

        Assert.Equal(VerificationChecks.Signature, error.Check);
        Assert.Contains("1 valid signature(s)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InstallAsync_ManifestSignedTwiceBySameKeyOfTwoRequired_RejectsSignature()
    {
        using var publisher = new TestPublisher(_clock, targetsKeys: 2, targetsThreshold: 2);
        using var data = new TempDirectory();
        var installer = NewInstaller(publisher, data);
        var once = publisher.TargetsKeys[0];
        var package = publisher.Build("sensor-anomaly", "1.0.0", signers: [once, once]);
        _registry.Publish(package);
        publisher.Approve(package);

        var error = await Assert.ThrowsAsync<PackageRejectedException>(() => installer.InstallAsync(package.Reference, CancellationToken.None));

        Assert.Equal(VerificationChecks.Signature, error.Check);
    }

    [Fact]
    public async Task InstallAsync_ManifestSignedByBothKeysOfTwoRequired_Installs()
    {
        using var publisher = new TestPublisher(_clock, targetsKeys: 2, targetsThreshold: 2);
        using var data = new TempDirectory();
        var installer = NewInstaller(publisher, data);
        var package = publisher.Build("sensor-anomaly", "1.0.0");
        _registry.Publish(package);
        publisher.Approve(package);

        var installed = await installer.InstallAsync(package.Reference, CancellationToken.None);

        Assert.Equal(package.ModelBytes, await File.ReadAllBytesAsync(installed.ModelPath));
    }

    [Fact]
    public async Task InstallAsync_CorruptedSignature_RejectsSignature()
    {
        var package = Publish("sensor-anomaly", "1.0.0");
        var signature = Convert.FromBase64String(package.Reference.Signature);
        signature[^1] ^= 0xFF; // the last bytes are the ECDSA signature value itself
        var reference = package.Reference with { Signature = Convert.ToBase64String(signature) };

        var error = await Assert.ThrowsAsync<PackageRejectedException>(() => _installer.InstallAsync(reference, CancellationToken.None));

        Assert.Equal(VerificationChecks.Signature, error.Check);
        Assert.False(_store.Contains(package.Reference.ManifestDigest));
        Assert.Empty(_registry.BlobPulls);
    }

    [Fact]
    public async Task InstallAsync_SignatureOverOtherManifest_RejectsSignature()
    {
        var package = Publish("sensor-anomaly", "1.0.0");
        var other = Publish("sensor-anomaly", "2.0.0");

        var error = await Assert.ThrowsAsync<PackageRejectedException>(
            () => _installer.InstallAsync(package.Reference with { Signature = other.Reference.Signature }, CancellationToken.None));

        Assert.Equal(VerificationChecks.Signature, error.Check);
    }

    [Theory]
    [InlineData("not base64!")]
    [InlineData("")]
    public async Task InstallAsync_SignatureNotCms_RejectsSignature(string signature)
    {
        var package = Publish("sensor-anomaly", "1.0.0");

        var error = await Assert.ThrowsAsync<PackageRejectedException>(
            () => _installer.InstallAsync(package.Reference with { Signature = signature }, CancellationToken.None));

        Assert.Equal(VerificationChecks.Signature, error.Check);
        Assert.Empty(_registry.BlobPulls);
    }

    [Theory]
    [InlineData("another-model", "1.0.0")]
    [InlineData("sensor-anomaly", "0.9.0")]
    public async Task InstallAsync_CardNamesAnotherRelease_RejectsManifestFormat(string cardName, string cardVersion)
    {
        var package = Publish("sensor-anomaly", "1.0.0", _publisher.Build("sensor-anomaly", "1.0.0", cardName, cardVersion));

        var error = await Assert.ThrowsAsync<PackageRejectedException>(() => _installer.InstallAsync(package.Reference, CancellationToken.None));

        Assert.Equal(VerificationChecks.ManifestFormat, error.Check);
        Assert.Contains($"{cardName}:{cardVersion}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InstallAsync_SignedManifestNotAModelArtifact_RejectsManifestFormat()
    {
        var package = Publish("sensor-anomaly", "1.0.0", _publisher.Build("sensor-anomaly", "1.0.0", artifactType: "application/vnd.example.other+json"));

        var error = await Assert.ThrowsAsync<PackageRejectedException>(() => _installer.InstallAsync(package.Reference, CancellationToken.None));

        Assert.Equal(VerificationChecks.ManifestFormat, error.Check);
        Assert.Empty(_registry.BlobPulls);
    }

    [Fact]
    public async Task InstallAsync_StoredManifestAlteredOnDisk_PullsItAgainAndInstalls()
    {
        var package = Publish("sensor-anomaly", "1.0.0");
        await _installer.InstallAsync(package.Reference, CancellationToken.None);
        await FlipFirstByteAsync(_store.PathOf(package.Reference.ManifestDigest));

        var installed = await _installer.InstallAsync(package.Reference, CancellationToken.None);

        Assert.Equal(2, _registry.ManifestPulls.Count);
        Assert.Equal(package.ModelBytes, await File.ReadAllBytesAsync(installed.ModelPath));
    }

    [Fact]
    public async Task LoadInstalledAsync_InstalledPackage_LoadsFromDiskWithoutRegistryOrMetadataServer()
    {
        var package = Publish("sensor-anomaly", "1.0.0");
        await _installer.InstallAsync(package.Reference, CancellationToken.None);
        var pulls = _registry.Pulls;
        _publisher.Remote.Offline = true;
        var restarted = NewInstaller();

        var loaded = await restarted.LoadInstalledAsync(package.Reference, CancellationToken.None);

        Assert.Equal("1.0.0", loaded.Card.Version);
        Assert.Equal(_store.PathOf(package.OnnxDigest), loaded.ModelPath);
        Assert.Equal(pulls, _registry.Pulls);
    }

    [Fact]
    public async Task LoadInstalledAsync_StoredModelAlteredOnDisk_RejectsLayerDigest()
    {
        var package = Publish("sensor-anomaly", "1.0.0");
        await _installer.InstallAsync(package.Reference, CancellationToken.None);
        await FlipFirstByteAsync(_store.PathOf(package.OnnxDigest));

        var error = await Assert.ThrowsAsync<PackageRejectedException>(() => _installer.LoadInstalledAsync(package.Reference, CancellationToken.None));

        Assert.Equal(VerificationChecks.LayerDigest, error.Check);
        Assert.Contains(package.OnnxDigest, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoadInstalledAsync_StoredManifestAlteredOnDisk_RejectsManifestDigest()
    {
        var package = Publish("sensor-anomaly", "1.0.0");
        await _installer.InstallAsync(package.Reference, CancellationToken.None);
        await FlipFirstByteAsync(_store.PathOf(package.Reference.ManifestDigest));

        var error = await Assert.ThrowsAsync<PackageRejectedException>(() => _installer.LoadInstalledAsync(package.Reference, CancellationToken.None));

        Assert.Equal(VerificationChecks.ManifestDigest, error.Check);
    }

    [Fact]
    public async Task LoadInstalledAsync_NeverInstalled_RejectsWithoutRegistry()
    {
        var package = Publish("sensor-anomaly", "1.0.0");

        var error = await Assert.ThrowsAsync<PackageRejectedException>(() => _installer.LoadInstalledAsync(package.Reference, CancellationToken.None));

        Assert.Equal(VerificationChecks.ManifestDigest, error.Check);
        Assert.Equal(0, _registry.Pulls);
    }

    private PackageInstaller NewInstaller() => NewInstaller(_publisher, _data);

    private PackageInstaller NewInstaller(TestPublisher publisher, TempDirectory data) =>
        new(
            _registry,
            new LocalModelStore(data.Path),
            publisher.NewDeviceTrust(data.Path),
            Microsoft.Extensions.Options.Options.Create(new AgentOptions { DataDirectory = data.Path, Channel = TestPublisher.Production }),
            NullLogger<PackageInstaller>.Instance);

    /// <summary>Serves the package from the registry and approves it for production.</summary>
    private TestPackage Publish(string name, string version, TestPackage? package = null)
    {
        package ??= _publisher.Build(name, version);
        _registry.Publish(package);
        _publisher.Approve(package);
        return package;
    }

    internal static async Task FlipFirstByteAsync(string path)
    {
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[0] ^= 0x01;
        await File.WriteAllBytesAsync(path, bytes);
    }
}

/// <summary>Serves the first <c>cut</c> bytes of a blob, then fails as a dropped connection does.</summary>
internal sealed class BreakingStream(byte[] content, int cut) : MemoryStream(content[..cut], writable: false)
{
    public override int Read(Span<byte> buffer)
    {
        var read = base.Read(buffer);
        return read > 0 ? read : throw new IOException("connection reset by peer");
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));
}

/// <summary>A whole blob from a registry that does not honour Range requests.</summary>
internal sealed class NonSeekableStream(byte[] content) : MemoryStream(content, writable: false)
{
    public override bool CanSeek => false;
}
