using System.Security.Cryptography;
using System.Text.Json;
using EdgePlatform.Agent.Core;
using EdgePlatform.Agent.Core.Packages;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Agent.Core.Trust;
using EdgePlatform.Contracts;
using EdgePlatform.Security;
using EdgePlatform.Security.Tuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Oci.Tests;

/// <summary>
/// A model package pushed to the CNCF distribution registry, with its signature under the
/// <c>sha256-&lt;hex&gt;.sig</c> tag (that registry has no referrers API), installed by the
/// agent's own pull and verification code.
/// </summary>
[Trait("Category", "Integration")]
public sealed class AgentInstallFromDistributionRegistryTests(DistributionRegistryFixture registry)
    : IClassFixture<DistributionRegistryFixture>, IDisposable
{
    private readonly string _publisher = Directory.CreateTempSubdirectory("edgeplatform-publisher-").FullName;
    private readonly string _device = Directory.CreateTempSubdirectory("edgeplatform-device-").FullName;

    [Fact]
    public async Task InstallAsync_PackageInDistributionRegistry_VerifiesSignatureTagAndInstalls()
    {
        var (published, onnx) = await PublishAsync();
        var installer = NewInstaller(published.Repository);

        var installed = await installer.InstallAsync(published.Reference, CancellationToken.None);

        Assert.Equal(onnx, await File.ReadAllBytesAsync(installed.ModelPath));
        Assert.Equal("pump-anomaly", installed.Card.Name);
    }

    [Fact]
    public async Task InstallAsync_SignatureTagBySomeoneElse_RefusesSignature()
    {
        var (published, _) = await PublishAsync();
        using var stranger = TufSigningKey.Create("stranger", DateTimeOffset.UtcNow);
        var client = new OciDistributionClient(registry.Http, registry.Registry);
        var manifest = (await client.GetManifestAsync(published.Repository, published.Reference.ManifestDigest, CancellationToken.None)).Content;
        await client.PushSignatureAsync(published.Repository, published.Reference.ManifestDigest, TufSigningKey.SignDetached(manifest, [stranger], DateTimeOffset.UtcNow), CancellationToken.None);

        var refused = await Assert.ThrowsAsync<PackageRejectedException>(
            () => NewInstaller(published.Repository).InstallAsync(published.Reference, CancellationToken.None));

        Assert.Equal(VerificationChecks.Signature, refused.Check);
    }

    public void Dispose()
    {
        Directory.Delete(_publisher, recursive: true);
        Directory.Delete(_device, recursive: true);
    }

    private TufRepository? _trust;

    private async Task<(Published Published, byte[] Onnx)> PublishAsync()
    {
        var now = DateTimeOffset.UtcNow;
        using var root = TufSigningKey.Create("root", now);
        using var targets = TufSigningKey.Create("targets", now);
        using var timestamp = TufSigningKey.Create("timestamp", now);
        var rootDocument = TufRepository.NewRoot(1, now.AddDays(30), new Dictionary<string, (IReadOnlyList<TufSigningKey>, int)>
        {
            [TufRoles.Root] = ([root], 1),
            [TufRoles.Targets] = ([targets], 1),
            [TufRoles.Timestamp] = ([timestamp], 1),
        });
        _trust = TufRepository.Create(_publisher, TufEnvelopes.Serialize(TufEnvelopes.Create(rootDocument, TufJsonContext.Default.RootMetadata, [root], now)));

        var client = new OciDistributionClient(registry.Http, registry.Registry);
        var repository = $"models/pump-anomaly-{Guid.NewGuid():N}";
        var card = new ModelCard(
            "pump-anomaly",
            "1",
            ModelTasks.BinaryClassification,
            [new ModelInput("vibration_mm_s", TensorElementTypes.Float32, [-1, 1], "vibration_mm_s")],
            [],
            new Dictionary<string, double>(),
            new ModelLineage("run-1", "sensor-anomaly", ContentDigest.Compute("data"u8), 1, "fasttree", new Dictionary<string, string>(), "test"),
            [],
            now);
        var onnx = RandomNumberGenerator.GetBytes(300_000);
        var config = await client.PushBlobAsync(repository, JsonSerializer.SerializeToUtf8Bytes(card, ContractsJsonContext.Default.ModelCard), MediaTypes.ModelCard, CancellationToken.None);
        using var onnxStream = new MemoryStream(onnx);
        var layer = await client.PushBlobChunkedAsync(repository, onnxStream, MediaTypes.Onnx, 64 * 1024, CancellationToken.None);
        var manifest = JsonSerializer.SerializeToUtf8Bytes(
            new OciManifest(2, MediaTypes.OciManifest, MediaTypes.ModelArtifact, config, [layer]),
            ContractsJsonContext.Default.OciManifest);
        var digest = await client.PushManifestAsync(repository, "1", manifest, MediaTypes.OciManifest, CancellationToken.None);
        await client.PushSignatureAsync(repository, digest, TufSigningKey.SignDetached(manifest, [targets], now), CancellationToken.None);

        _trust.PublishTargets(
            _ => new Dictionary<string, TargetEntry> { ["pump-anomaly:1"] = new(repository, digest, manifest.Length, ["production"]) },
            [targets],
            TimeSpan.FromDays(1),
            now);
        _trust.RefreshTimestamp([timestamp], TimeSpan.FromHours(1), now);

        // The deployment names the package by digest and carries no signature: it is in the registry.
        return (new Published(repository, new ModelReference(repository, "pump-anomaly", "1", digest, manifest.Length, string.Empty)), onnx);
    }

    private PackageInstaller NewInstaller(string repository)
    {
        var trustDirectory = Path.Combine(_device, "trust");
        if (!File.Exists(Path.Combine(trustDirectory, TufClient.RootFile)))
        {
            TufClient.Pin(trustDirectory, _trust!.RootBytes(1));
        }

        var trust = new DeviceTrust(new TufClient(trustDirectory, new RepositoryRemote(_trust!), TimeProvider.System), _ => Task.CompletedTask);
        return new PackageInstaller(
            new OciRegistryClient(registry.Http, new FixedRegistry(registry.Registry)),
            new LocalModelStore(Path.Combine(_device, repository.Replace('/', '_'))),
            trust,
            Options.Create(new AgentOptions { DataDirectory = _device }),
            NullLogger<PackageInstaller>.Instance);
    }

    private sealed record Published(string Repository, ModelReference Reference);

    private sealed class FixedRegistry(Uri registry) : IRegistryLocator
    {
        public ValueTask<Uri> GetRegistryUriAsync(CancellationToken cancellationToken) => ValueTask.FromResult(registry);
    }

    /// <summary>The publisher's metadata as a control plane would serve it.</summary>
    private sealed class RepositoryRemote(TufRepository repository) : ITufRemote
    {
        public Task<byte[]?> GetRootAsync(long version, CancellationToken cancellationToken) => Task.FromResult(repository.RootBytes(version));

        public Task<byte[]> GetTimestampAsync(CancellationToken cancellationToken) => Task.FromResult(repository.TimestampBytes!);

        public Task<byte[]> GetTargetsAsync(CancellationToken cancellationToken) => Task.FromResult(repository.TargetsBytes!);
    }
}
