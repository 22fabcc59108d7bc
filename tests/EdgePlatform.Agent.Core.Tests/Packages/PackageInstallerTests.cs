using EdgePlatform.Agent.Core.Packages;
using EdgePlatform.Security;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgePlatform.Agent.Core.Tests.Packages;

public sealed class PackageInstallerTests : IDisposable
{
    private readonly TempDirectory _data = new();
    private readonly TestPublisher _publisher = new();
    private readonly FakeRegistryClient _registry = new();
    private readonly LocalModelStore _store;
    private readonly PackageInstaller _installer;

    public PackageInstallerTests()
    {
        _store = new LocalModelStore(_data.Path);
        _installer = new PackageInstaller(_registry, _store, _publisher.TrustStore, NullLogger<PackageInstaller>.Instance);
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
        Assert.Equal(_store.PathOf(package.ModelDigest), installed.ModelPath);
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
        Assert.Equal(_store.PathOf(package.ModelDigest), again.ModelPath);
    }

    [Fact]
    public async Task InstallAsync_StoredBlobAlteredOnDisk_PullsItAgain()
    {
        var package = Publish("sensor-anomaly", "1.0.0");
        await _installer.InstallAsync(package.Reference, CancellationToken.None);
        await FlipFirstByteAsync(_store.PathOf(package.ModelDigest));

        var installed = await _installer.InstallAsync(package.Reference, CancellationToken.None);

        Assert.Equal(3, _registry.BlobPulls.Count);
        Assert.Equal(package.ModelDigest, _registry.BlobPulls.Last());
        Assert.Equal(package.ModelBytes, await File.ReadAllBytesAsync(installed.ModelPath));
    }

    [Fact]
    public async Task InstallAsync_ModelBlobChangedAtRegistry_RejectsLayerDigestAndStoresNothingUnderIt()
    {
        var package = Publish("sensor-anomaly", "1.0.0");
        var tampered = package.ModelBytes.ToArray();
        tampered[^1] ^= 0x01;
        _registry.ServeBlob(package.ModelDigest, tampered);

        var error = await Assert.ThrowsAsync<PackageRejectedException>(() => _installer.InstallAsync(package.Reference, CancellationToken.None));

        Assert.Equal(VerificationChecks.LayerDigest, error.Check);
        Assert.Contains(package.ModelDigest, error.Message, StringComparison.Ordinal);
        Assert.False(_store.Contains(package.ModelDigest));
        Assert.False(File.Exists(_store.PathOf(package.ModelDigest)));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_data.Path, "models", "incoming")));
    }

    [Fact]
    public async Task InstallAsync_BlobLongerThanSigned_RejectsLayerSizeReadingAtMostOneBytePastIt()
    {
        var package = Publish("sensor-anomaly", "1.0.0");
        var endless = new EndlessStream();
        _registry.ServeBlob(package.ModelDigest, () => endless);

        var error = await Assert.ThrowsAsync<PackageRejectedException>(() => _installer.InstallAsync(package.Reference, CancellationToken.None));

        Assert.Equal(VerificationChecks.LayerSize, error.Check);
        Assert.Equal(package.ModelBytes.Length + 1, endless.BytesRead);
        Assert.False(_store.Contains(package.ModelDigest));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_data.Path, "models", "incoming")));
    }

    [Fact]
    public async Task InstallAsync_BlobShorterThanSigned_RejectsLayerSize()
    {
        var package = Publish("sensor-anomaly", "1.0.0");
        _registry.ServeBlob(package.ModelDigest, package.ModelBytes[..^1]);

        var error = await Assert.ThrowsAsync<PackageRejectedException>(() => _installer.InstallAsync(package.Reference, CancellationToken.None));

        Assert.Equal(VerificationChecks.LayerSize, error.Check);
        Assert.False(_store.Contains(package.ModelDigest));
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
    public async Task InstallAsync_PinnedSizeOutOfRange_RejectsManifestSizeWithoutPulling(long size)
    {
        var package = Publish("sensor-anomaly", "1.0.0");

        var error = await Assert.ThrowsAsync<PackageRejectedException>(
            () => _installer.InstallAsync(package.Reference with { ManifestSize = size }, CancellationToken.None));

        Assert.Equal(VerificationChecks.ManifestSize, error.Check);
        Assert.Equal(0, _registry.Pulls);
    }

    [Fact]
    public async Task InstallAsync_SignerFromAnotherRoot_RejectsSignerTrust()
    {
        using var stranger = new TestPublisher("someone else's root");
        var package = stranger.Build("sensor-anomaly", "1.0.0");
        _registry.Publish(package);

        var error = await Assert.ThrowsAsync<PackageRejectedException>(() => _installer.InstallAsync(package.Reference, CancellationToken.None));

        Assert.Equal(VerificationChecks.SignerTrust, error.Check);
        Assert.False(_store.Contains(package.Reference.ManifestDigest));
        Assert.Empty(_registry.BlobPulls);
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
        var package = _publisher.Build("sensor-anomaly", "1.0.0", cardName, cardVersion);
        _registry.Publish(package);

        var error = await Assert.ThrowsAsync<PackageRejectedException>(() => _installer.InstallAsync(package.Reference, CancellationToken.None));

        Assert.Equal(VerificationChecks.ManifestFormat, error.Check);
        Assert.Contains($"{cardName}:{cardVersion}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InstallAsync_SignedManifestNotAModelArtifact_RejectsManifestFormat()
    {
        var package = _publisher.Build("sensor-anomaly", "1.0.0", artifactType: "application/vnd.example.other+json");
        _registry.Publish(package);

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
    public async Task LoadInstalledAsync_InstalledPackage_LoadsFromDiskWithoutRegistry()
    {
        var package = Publish("sensor-anomaly", "1.0.0");
        await _installer.InstallAsync(package.Reference, CancellationToken.None);
        var pulls = _registry.Pulls;
        var restarted = new PackageInstaller(_registry, new LocalModelStore(_data.Path), _publisher.TrustStore, NullLogger<PackageInstaller>.Instance);

        var loaded = await restarted.LoadInstalledAsync(package.Reference, CancellationToken.None);

        Assert.Equal("1.0.0", loaded.Card.Version);
        Assert.Equal(_store.PathOf(package.ModelDigest), loaded.ModelPath);
        Assert.Equal(pulls, _registry.Pulls);
    }

    [Fact]
    public async Task LoadInstalledAsync_StoredModelAlteredOnDisk_RejectsLayerDigest()
    {
        var package = Publish("sensor-anomaly", "1.0.0");
        await _installer.InstallAsync(package.Reference, CancellationToken.None);
        await FlipFirstByteAsync(_store.PathOf(package.ModelDigest));

        var error = await Assert.ThrowsAsync<PackageRejectedException>(() => _installer.LoadInstalledAsync(package.Reference, CancellationToken.None));

        Assert.Equal(VerificationChecks.LayerDigest, error.Check);
        Assert.Contains(package.ModelDigest, error.Message, StringComparison.Ordinal);
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

    private TestPackage Publish(string name, string version)
    {
        var package = _publisher.Build(name, version);
        _registry.Publish(package);
        return package;
    }

    internal static async Task FlipFirstByteAsync(string path)
    {
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[0] ^= 0x01;
        await File.WriteAllBytesAsync(path, bytes);
    }
}
