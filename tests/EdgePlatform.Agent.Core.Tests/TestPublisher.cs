using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EdgePlatform.Agent.Core.Trust;
using EdgePlatform.Contracts;
using EdgePlatform.Security.Tuf;

namespace EdgePlatform.Agent.Core.Tests;

/// <summary>A model package as the control plane publishes it: blobs, signed manifest and the reference a deployment pins.</summary>
internal sealed record TestPackage(ModelReference Reference, byte[] ManifestBytes, OciManifest Manifest, byte[] CardBytes, byte[] ModelBytes)
{
    public string CardDigest => Manifest.Config.Digest;

    public string OnnxDigest => Manifest.Layers[0].Digest;

    public string Release => $"{Reference.Name}:{Reference.Version}";
}

/// <summary>What the metadata server served at one moment, for replaying it later.</summary>
internal sealed record MetadataSnapshot(byte[] Timestamp, byte[] Targets);

/// <summary>
/// The publishing side of the chain of trust, for tests: real signing keys (root, targets,
/// timestamp), a real <see cref="TufRepository"/> in a temporary directory, packages whose
/// manifests the targets keys sign, and releases approved in the signed targets. It also forges
/// what an attacker holding some keys could serve, through <see cref="Remote"/>.
/// </summary>
internal sealed class TestPublisher : IDisposable
{
    public const string Repository = "models/sensor-anomaly";
    public const string Production = "production";

    public static readonly TimeSpan RootLifetime = TimeSpan.FromDays(365);
    public static readonly TimeSpan TargetsLifetime = TimeSpan.FromDays(30);
    public static readonly TimeSpan TimestampLifetime = TimeSpan.FromDays(1);

    private readonly TempDirectory _directory = new();
    private readonly TimeProvider _clock;
    private readonly List<IDisposable> _owned = [];

    public TestPublisher(TimeProvider? clock = null, int targetsKeys = 1, int targetsThreshold = 1)
    {
        _clock = clock ?? TimeProvider.System;
        RootKey = NewKey("root");
        TimestampKey = NewKey("timestamp");
        TargetsKeys = [.. Enumerable.Range(1, targetsKeys).Select(i => NewKey($"targets-{i}"))];
        TargetsThreshold = targetsThreshold;

        FirstRoot = SignRoot(1, RootKey, TargetsKeys, targetsThreshold, [RootKey]);
        Tuf = TufRepository.Create(Path.Combine(_directory.Path, "trust"), FirstRoot);
        Remote = new FakeTufRemote(Tuf);

        // A device refreshes timestamp and targets on every install, so both exist from the start.
        Tuf.PublishTargets(_ => new Dictionary<string, TargetEntry>(StringComparer.Ordinal), TargetsKeys, TargetsLifetime, Now);
        Tuf.RefreshTimestamp([TimestampKey], TimestampLifetime, Now);
    }

    public TufSigningKey RootKey { get; private set; }

    public TufSigningKey TimestampKey { get; }

    /// <summary>The targets keys of the newest root; packages are signed and releases approved with them.</summary>
    public IReadOnlyList<TufSigningKey> TargetsKeys { get; private set; }

    public int TargetsThreshold { get; private set; }

    /// <summary>Root version 1 as the device pins it at enrollment.</summary>
    public byte[] FirstRoot { get; }

    public TufRepository Tuf { get; }

    /// <summary>The metadata server a device talks to; it serves <see cref="Tuf"/> unless told otherwise.</summary>
    public FakeTufRemote Remote { get; }

    private DateTimeOffset Now => _clock.GetUtcNow();

    /// <summary>A signing key the publisher disposes with itself.</summary>
    public TufSigningKey NewKey(string name)
    {
        var key = TufSigningKey.Create(name, Now);
        _owned.Add(key);
        return key;
    }

    /// <summary>
    /// The device side over <paramref name="dataDirectory"/>: a real <see cref="TufClient"/> under
    /// <c>trust/</c>, pinned to root version 1 unless it already holds a root (a restart).
    /// </summary>
    public DeviceTrust NewDeviceTrust(string dataDirectory)
    {
        var directory = Path.Combine(dataDirectory, "trust");
        var client = new TufClient(directory, Remote, _clock);
        if (!client.IsPinned)
        {
            TufClient.Pin(directory, FirstRoot);
        }

        var trust = new DeviceTrust(client, _ => Task.CompletedTask);
        _owned.Add(trust);
        return trust;
    }

    public TestPackage Build(
        string name,
        string version,
        string? cardName = null,
        string? cardVersion = null,
        string artifactType = MediaTypes.ModelArtifact,
        IReadOnlyList<TufSigningKey>? signers = null,
        string? graph = null)
    {
        var modelBytes = Encoding.UTF8.GetBytes(graph ?? $"onnx graph of {name}:{version}");
        var card = new ModelCard(
            cardName ?? name,
            cardVersion ?? version,
            ModelTasks.BinaryClassification,
            [new ModelInput("temperature", TensorElementTypes.Float32, [-1, 1], "temperature")],
            [new ModelOutput("PredictedLabel", TensorElementTypes.Bool, [-1, 1], PredictionFields.Label)],
            new Dictionary<string, double> { ["auc"] = 0.97 },
            new ModelLineage("run-1", "sensors", ContentDigest.Compute("dataset"u8), 100, "FastTree", new Dictionary<string, string>(), "test"),
            [new FeatureBaseline("temperature", 20, 2, 10, 30)],
            DateTimeOffset.UnixEpoch);
        var cardBytes = JsonSerializer.SerializeToUtf8Bytes(card, ContractsJsonContext.Default.ModelCard);
        var manifest = new OciManifest(
            2,
            MediaTypes.OciManifest,
            artifactType,
            new OciDescriptor(MediaTypes.ModelCard, ContentDigest.Compute(cardBytes), cardBytes.Length),
            [new OciDescriptor(
                MediaTypes.Onnx,
                ContentDigest.Compute(modelBytes),
                modelBytes.Length,
                new Dictionary<string, string> { [OciManifest.TitleAnnotation] = "model.onnx" })]);
        var manifestBytes = JsonSerializer.SerializeToUtf8Bytes(manifest, ContractsJsonContext.Default.OciManifest);
        var signature = TufSigningKey.SignDetached(manifestBytes, signers ?? TargetsKeys, Now);
        var reference = new ModelReference(
            Repository, name, version, ContentDigest.Compute(manifestBytes), manifestBytes.Length, Convert.ToBase64String(signature));
        return new TestPackage(reference, manifestBytes, manifest, cardBytes, modelBytes);
    }

    /// <summary>Approves the release in the next targets version (signed by the targets keys) and refreshes the timestamp.</summary>
    public void Approve(TestPackage package, params string[] channels) =>
        Approve(package.Release, Entry(package, channels));

    public void Approve(string release, TargetEntry entry) => Publish(With(release, entry));

    /// <summary>Signs the next targets version with the current targets keys, then the timestamp pinning it.</summary>
    public void Publish(Func<IReadOnlyDictionary<string, TargetEntry>, IReadOnlyDictionary<string, TargetEntry>> change)
    {
        Tuf.PublishTargets(current => change(current?.Targets ?? new Dictionary<string, TargetEntry>()), TargetsKeys, TargetsLifetime, Now);
        Tuf.RefreshTimestamp([TimestampKey], TimestampLifetime, Now);
    }

    public static TargetEntry Entry(TestPackage package, params string[] channels) =>
        new(package.Reference.Repository, package.Reference.ManifestDigest, package.Reference.ManifestSize, channels.Length == 0 ? [Production] : channels);

    public static Func<IReadOnlyDictionary<string, TargetEntry>, IReadOnlyDictionary<string, TargetEntry>> With(string release, TargetEntry entry) =>
        targets => new Dictionary<string, TargetEntry>(targets, StringComparer.Ordinal) { [release] = entry };

    public static Func<IReadOnlyDictionary<string, TargetEntry>, IReadOnlyDictionary<string, TargetEntry>> Without(string release) =>
        targets => targets.Where(t => t.Key != release).ToDictionary(StringComparer.Ordinal);

    public MetadataSnapshot Snapshot() => new(Tuf.TimestampBytes!, Tuf.TargetsBytes!);

    /// <summary>A root document of the given version and keys (timestamp key unchanged), signed by <paramref name="signedBy"/>.</summary>
    public byte[] SignRoot(long version, TufSigningKey rootKey, IReadOnlyList<TufSigningKey> targetsKeys, int targetsThreshold, IEnumerable<TufSigningKey> signedBy)
    {
        var root = TufRepository.NewRoot(version, Now + RootLifetime, new Dictionary<string, (IReadOnlyList<TufSigningKey>, int)>
        {
            [TufRoles.Root] = ([rootKey], 1),
            [TufRoles.Targets] = (targetsKeys, targetsThreshold),
            [TufRoles.Timestamp] = ([TimestampKey], 1),
        });
        return TufEnvelopes.Serialize(TufEnvelopes.Create(root, TufJsonContext.Default.RootMetadata, signedBy, Now));
    }

    /// <summary>
    /// Rotates to new root and targets keys the way an operator does: the next root signed by the
    /// old and the new root key, then the targets re-signed by the new targets keys.
    /// </summary>
    public void Rotate(TufSigningKey rootKey, IReadOnlyList<TufSigningKey> targetsKeys, int targetsThreshold = 1)
    {
        Tuf.AddRoot(SignRoot(Tuf.RootVersion + 1, rootKey, targetsKeys, targetsThreshold, [RootKey, rootKey]));
        RootKey = rootKey;
        TargetsKeys = targetsKeys;
        TargetsThreshold = targetsThreshold;
        Publish(targets => targets);
    }

    /// <summary>
    /// Targets the repository would refuse, as an attacker would sign them: the next version after
    /// the published one, with <paramref name="change"/> applied, signed by <paramref name="signers"/>.
    /// </summary>
    public byte[] ForgeTargets(
        IReadOnlyList<TufSigningKey> signers,
        Func<IReadOnlyDictionary<string, TargetEntry>, IReadOnlyDictionary<string, TargetEntry>> change,
        Func<SignedEnvelope, SignedEnvelope>? tamper = null)
    {
        var current = Tuf.Targets!;
        var targets = new TargetsMetadata(TufRoles.Targets, current.Version + 1, Now + TargetsLifetime, change(current.Targets));
        var envelope = TufEnvelopes.Create(targets, TufJsonContext.Default.TargetsMetadata, signers, Now);
        return TufEnvelopes.Serialize(tamper is null ? envelope : tamper(envelope));
    }

    /// <summary>
    /// A timestamp pinning <paramref name="targetsBytes"/>, signed by the real timestamp key (an
    /// online key, the one most exposed), one version past the published one.
    /// </summary>
    public byte[] ForgeTimestamp(byte[] targetsBytes, TimeSpan? lifetime = null)
    {
        var targets = TufEnvelopes.Read(TufEnvelopes.Parse(targetsBytes), TufJsonContext.Default.TargetsMetadata, TufRoles.Targets);
        var timestamp = new TimestampMetadata(
            TufRoles.Timestamp,
            Tuf.Timestamp!.Version + 1,
            Now + (lifetime ?? TimestampLifetime),
            new MetaFile(targets.Version, targetsBytes.Length, Convert.ToHexStringLower(SHA256.HashData(targetsBytes))));
        return TufEnvelopes.Serialize(TufEnvelopes.Create(timestamp, TufJsonContext.Default.TimestampMetadata, [TimestampKey], Now));
    }

    /// <summary>Serves forged targets with a valid timestamp pinning them, so only the targets checks stand in the way.</summary>
    public void ServeForgedTargets(byte[] targetsBytes)
    {
        Remote.Targets = targetsBytes;
        Remote.Timestamp = ForgeTimestamp(targetsBytes);
    }

    public void Dispose()
    {
        foreach (var owned in _owned)
        {
            owned.Dispose();
        }

        _directory.Dispose();
    }
}

/// <summary>
/// The control plane's metadata endpoints: serves the repository's files byte for byte, unless a
/// test replaces one (stale, forged or mismatched bytes) or takes the server offline.
/// </summary>
internal sealed class FakeTufRemote(TufRepository repository) : ITufRemote
{
    private int _requests;

    /// <summary>Served instead of the repository's timestamp when set.</summary>
    public byte[]? Timestamp { get; set; }

    /// <summary>Served instead of the repository's targets when set.</summary>
    public byte[]? Targets { get; set; }

    /// <summary>Root versions served instead of (or beyond) the repository's.</summary>
    public Dictionary<long, byte[]> Roots { get; } = [];

    /// <summary>When set, every request fails as if the server could not be reached.</summary>
    public bool Offline { get; set; }

    public int Requests => _requests;

    public void Serve(MetadataSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        Timestamp = snapshot.Timestamp;
        Targets = snapshot.Targets;
    }

    public Task<byte[]?> GetRootAsync(long version, CancellationToken cancellationToken)
    {
        Reach();
        return Task.FromResult(Roots.TryGetValue(version, out var bytes) ? bytes : repository.RootBytes(version));
    }

    public Task<byte[]> GetTimestampAsync(CancellationToken cancellationToken)
    {
        Reach();
        return Task.FromResult(Timestamp ?? repository.TimestampBytes!);
    }

    public Task<byte[]> GetTargetsAsync(CancellationToken cancellationToken)
    {
        Reach();
        return Task.FromResult(Targets ?? repository.TargetsBytes!);
    }

    private void Reach()
    {
        Interlocked.Increment(ref _requests);
        if (Offline)
        {
            throw new HttpRequestException("the metadata server cannot be reached");
        }
    }
}
