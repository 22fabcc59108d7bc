using System.Text;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.Security.Tuf;

namespace EdgePlatform.ControlPlane.Tests.Fakes;

/// <summary>
/// A real trust repository over a throw-away directory with one key per role, as the server
/// keeps it; it records every approval it is asked for.
/// </summary>
internal sealed class TestTrustPublisher : ITrustPublisher, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edgeplatform-trust-tests-").FullName;
    private readonly TimeProvider _time;

    public TestTrustPublisher(TimeProvider time)
    {
        _time = time;
        var now = time.GetUtcNow();
        RootKey = TufSigningKey.Create("test root", now);
        TargetsKey = TufSigningKey.Create("test targets", now);
        TimestampKey = TufSigningKey.Create("test timestamp", now);
        var root = TufRepository.NewRoot(
            1,
            now.AddDays(365),
            new Dictionary<string, (IReadOnlyList<TufSigningKey>, int)>
            {
                [TufRoles.Root] = ([RootKey], 1),
                [TufRoles.Targets] = ([TargetsKey], 1),
                [TufRoles.Timestamp] = ([TimestampKey], 1),
            });
        Repository = TufRepository.Create(
            Path.Combine(_directory, "server"),
            TufEnvelopes.Serialize(TufEnvelopes.Create(root, TufJsonContext.Default.RootMetadata, [RootKey], now)));
    }

    public TufSigningKey RootKey { get; }

    public TufSigningKey TargetsKey { get; }

    public TufSigningKey TimestampKey { get; }

    public TufRepository Repository { get; }

    public List<Approval> Approvals { get; } = [];

    public string TrustedRoot => Encoding.UTF8.GetString(Repository.RootBytes(Repository.RootVersion)!);

    /// <summary>A directory a test may use as a device's trust directory.</summary>
    public string DeviceDirectory(string name) => Path.Combine(_directory, "devices", name);

    public bool VerifiesAsTargets(ReadOnlySpan<byte> manifest, ReadOnlySpan<byte> signature) =>
        TufEnvelopes.ValidCmsSigners(manifest, signature, Repository.Root, TufRoles.Targets).Count >= Repository.Root.Roles[TufRoles.Targets].Threshold;

    public byte[] SignManifest(ReadOnlySpan<byte> manifest) => TufSigningKey.SignDetached(manifest, [TargetsKey], _time.GetUtcNow());

    public Task RecordImageAsync(string name, string version, ContainerImageTarget image, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        Repository.PublishTargets(
            current => new Dictionary<string, TargetEntry>(current!.Targets, StringComparer.Ordinal) { [$"{name}:{version}"] = current.Targets[$"{name}:{version}"] with { Image = image } },
            [TargetsKey],
            TimeSpan.FromDays(30),
            now);
        Repository.RefreshTimestamp([TimestampKey], TimeSpan.FromDays(1), now);
        return Task.CompletedTask;
    }

    public Task ApproveAsync(string name, string version, string repository, string manifestDigest, long manifestLength, CancellationToken cancellationToken)
    {
        Approvals.Add(new Approval(name, version, repository, manifestDigest, manifestLength));
        var now = _time.GetUtcNow();
        Repository.PublishTargets(
            current => new Dictionary<string, TargetEntry>(current?.Targets ?? new Dictionary<string, TargetEntry>(), StringComparer.Ordinal)
            {
                [$"{name}:{version}"] = new TargetEntry(repository, manifestDigest, manifestLength, ["production"]),
            },
            [TargetsKey],
            TimeSpan.FromDays(30),
            now);
        Repository.RefreshTimestamp([TimestampKey], TimeSpan.FromDays(1), now);
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        RootKey.Dispose();
        TargetsKey.Dispose();
        TimestampKey.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    internal sealed record Approval(string Name, string Version, string Repository, string ManifestDigest, long ManifestLength);
}
