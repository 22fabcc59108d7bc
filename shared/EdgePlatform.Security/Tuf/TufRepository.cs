using System.Globalization;
using System.Security.Cryptography;

namespace EdgePlatform.Security.Tuf;

/// <summary>
/// The publishing side: the chain of root versions, the current targets and timestamp
/// documents (<c>root/N.json</c>, <c>targets.json</c>, <c>timestamp.json</c>) in a metadata
/// store: files of one directory, or a database that control-plane replicas share. It accepts
/// only metadata that a device would accept, so a bad rotation or an under-signed targets
/// document is refused here first. Documents are served byte for byte as stored, since the
/// timestamp pins the targets document by hash. Every read goes to the store, so a document
/// another process published is served at once.
/// </summary>
public sealed class TufRepository
{
    private readonly ITufMetadataStore _store;
    private readonly Lock _gate = new();

    private TufRepository(ITufMetadataStore store) => _store = store;

    public static bool Exists(string directory) => Exists(new DirectoryTufMetadataStore(directory));

    public static bool Exists(ITufMetadataStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        return store.Read(RootName(1)) is not null;
    }

    public static TufRepository Open(string directory) =>
        Exists(directory) ? new TufRepository(new DirectoryTufMetadataStore(directory)) : throw new TufFormatException($"no trust metadata in {directory}");

    public static TufRepository Open(ITufMetadataStore store) =>
        Exists(store) ? new TufRepository(store) : throw new TufFormatException("no trust metadata in the store");

    /// <summary>Starts a repository from root version 1, which must be signed by its own root threshold.</summary>
    public static TufRepository Create(string directory, ReadOnlySpan<byte> firstRoot) =>
        Create(new DirectoryTufMetadataStore(directory), firstRoot);

    /// <summary>Starts a repository from root version 1, which must be signed by its own root threshold.</summary>
    public static TufRepository Create(ITufMetadataStore store, ReadOnlySpan<byte> firstRoot)
    {
        ArgumentNullException.ThrowIfNull(store);
        var envelope = TufEnvelopes.Parse(firstRoot);
        var root = TufEnvelopes.Read(envelope, TufJsonContext.Default.RootMetadata, TufRoles.Root);
        if (root.Version != 1)
        {
            throw new TufVerificationException(TufChecks.RootVersion, $"the first root must be version 1, not {root.Version}");
        }

        TufEnvelopes.RequireThreshold(envelope, root, TufRoles.Root, TufChecks.RootSignature);
        var repository = new TufRepository(store);
        store.Write(RootName(1), firstRoot);
        return repository;
    }

    public long RootVersion
    {
        get
        {
            long version = 1;
            while (_store.Read(RootName(version + 1)) is not null)
            {
                version++;
            }

            return version;
        }
    }

    public RootMetadata Root => TufEnvelopes.Read(TufEnvelopes.Parse(RootBytes(RootVersion)!), TufJsonContext.Default.RootMetadata, TufRoles.Root);

    public byte[]? RootBytes(long version) => version >= 1 ? _store.Read(RootName(version)) : null;

    public byte[]? TargetsBytes => _store.Read(TargetsName);

    public byte[]? TimestampBytes => _store.Read(TimestampName);

    public TargetsMetadata? Targets => TargetsBytes is { } bytes
        ? TufEnvelopes.Read(TufEnvelopes.Parse(bytes), TufJsonContext.Default.TargetsMetadata, TufRoles.Targets)
        : null;

    public TimestampMetadata? Timestamp => TimestampBytes is { } bytes
        ? TufEnvelopes.Read(TufEnvelopes.Parse(bytes), TufJsonContext.Default.TimestampMetadata, TufRoles.Timestamp)
        : null;

    /// <summary>Adds the next root version; it must be signed by the current root threshold and its own.</summary>
    public RootMetadata AddRoot(ReadOnlySpan<byte> nextRoot)
    {
        lock (_gate)
        {
            var current = Root;
            var envelope = TufEnvelopes.Parse(nextRoot);
            var candidate = TufEnvelopes.Read(envelope, TufJsonContext.Default.RootMetadata, TufRoles.Root);
            if (candidate.Version != current.Version + 1)
            {
                throw new TufVerificationException(TufChecks.RootVersion, $"the next root must be version {current.Version + 1}, not {candidate.Version}");
            }

            TufEnvelopes.RequireThreshold(envelope, current, TufRoles.Root, TufChecks.RootSignature);
            TufEnvelopes.RequireThreshold(envelope, candidate, TufRoles.Root, TufChecks.RootSignature);
            _store.Write(RootName(candidate.Version), nextRoot);
            return candidate;
        }
    }

    /// <summary>Stores targets signed elsewhere (an offline targets key); the version must grow.</summary>
    public TargetsMetadata PublishTargets(ReadOnlySpan<byte> signedTargets)
    {
        lock (_gate)
        {
            var envelope = TufEnvelopes.Parse(signedTargets);
            var targets = TufEnvelopes.Read(envelope, TufJsonContext.Default.TargetsMetadata, TufRoles.Targets);
            TufEnvelopes.RequireThreshold(envelope, Root, TufRoles.Targets, TufChecks.TargetsSignature);
            if (Targets is { } current && targets.Version <= current.Version)
            {
                throw new TufVerificationException(TufChecks.TargetsRollback, $"targets version {targets.Version} does not follow version {current.Version}");
            }

            _store.Write(TargetsName, signedTargets);
            return targets;
        }
    }

    /// <summary>Signs and stores the next targets version with the given (online) targets keys.</summary>
    public TargetsMetadata PublishTargets(
        Func<TargetsMetadata?, IReadOnlyDictionary<string, TargetEntry>> change,
        IReadOnlyList<TufSigningKey> keys,
        TimeSpan lifetime,
        DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(change);
        lock (_gate)
        {
            var current = Targets;
            var next = new TargetsMetadata(TufRoles.Targets, (current?.Version ?? 0) + 1, now.Add(lifetime), change(current));
            var envelope = TufEnvelopes.Create(next, TufJsonContext.Default.TargetsMetadata, keys, now);
            return PublishTargets(TufEnvelopes.Serialize(envelope));
        }
    }

    /// <summary>Signs the next freshness document, pinning the current targets file by version, length and hash.</summary>
    public TimestampMetadata RefreshTimestamp(IReadOnlyList<TufSigningKey> keys, TimeSpan lifetime, DateTimeOffset now)
    {
        lock (_gate)
        {
            var targetsBytes = TargetsBytes ?? throw new TufFormatException("there is no targets metadata to pin yet");
            var targets = Targets!;
            var timestamp = new TimestampMetadata(
                TufRoles.Timestamp,
                (Timestamp?.Version ?? 0) + 1,
                now.Add(lifetime),
                new MetaFile(targets.Version, targetsBytes.Length, Convert.ToHexStringLower(SHA256.HashData(targetsBytes))));
            var envelope = TufEnvelopes.Create(timestamp, TufJsonContext.Default.TimestampMetadata, keys, now);
            TufEnvelopes.RequireThreshold(envelope, Root, TufRoles.Timestamp, TufChecks.TimestampSignature);
            _store.Write(TimestampName, TufEnvelopes.Serialize(envelope));
            return timestamp;
        }
    }

    /// <summary>A root document for the given keys and thresholds, ready to be signed.</summary>
    public static RootMetadata NewRoot(
        long version,
        DateTimeOffset expires,
        IReadOnlyDictionary<string, (IReadOnlyList<TufSigningKey> Keys, int Threshold)> roles)
    {
        ArgumentNullException.ThrowIfNull(roles);
        var keys = new Dictionary<string, TufKey>(StringComparer.Ordinal);
        var roleKeys = new Dictionary<string, RoleKeys>(StringComparer.Ordinal);
        foreach (var (role, (members, threshold)) in roles)
        {
            if (threshold < 1 || threshold > members.Count)
            {
                throw new ArgumentException($"role {role}: threshold {threshold} must be between 1 and its {members.Count} key(s)", nameof(roles));
            }

            foreach (var key in members)
            {
                keys[key.KeyId] = key.PublicKey;
            }

            roleKeys[role] = new RoleKeys([.. members.Select(k => k.KeyId).Distinct(StringComparer.Ordinal)], threshold);
        }

        return new RootMetadata(TufRoles.Root, version, expires, keys, roleKeys);
    }

    private const string TargetsName = "targets.json";
    private const string TimestampName = "timestamp.json";

    private static string RootName(long version) => "root/" + version.ToString(CultureInfo.InvariantCulture) + ".json";
}
