using System.Security.Cryptography;
using System.Text.Json.Serialization.Metadata;

namespace EdgePlatform.Security.Tuf;

/// <summary>
/// The device's side of the update framework. Starting from the root pinned at enrollment it
/// follows the chain of root versions (each signed by its predecessor's threshold and its
/// own), then accepts freshness and targets metadata only when signed by their roles'
/// thresholds, not expired, and not older than what it has seen. What it has seen is kept on
/// disk (or in the <see cref="ITufMetadataStore"/> given), so a restart cannot be used to roll it back.
/// </summary>
public sealed class TufClient(ITufMetadataStore store, ITufRemote remote, TimeProvider timeProvider)
{
    public const string RootFile = "root.json";
    public const string TimestampFile = "timestamp.json";
    public const string TargetsFile = "targets.json";

    /// <summary>Bounds the rotations followed in one refresh, so an endless chain cannot stall a device.</summary>
    public const int MaxRootRotations = 256;

    /// <summary>A client keeping what it verified in files under <paramref name="directory"/>.</summary>
    public TufClient(string directory, ITufRemote remote, TimeProvider timeProvider)
        : this(new DirectoryTufMetadataStore(directory), remote, timeProvider)
    {
    }

    public bool IsPinned => store.Read(RootFile) is not null;

    /// <summary>Pins the first root (from enrollment). It must be signed by its own root threshold.</summary>
    public static RootMetadata Pin(string directory, ReadOnlySpan<byte> rootEnvelope) =>
        Pin(new DirectoryTufMetadataStore(directory), rootEnvelope);

    /// <summary>Pins the first root (from enrollment) in <paramref name="store"/>. It must be signed by its own root threshold.</summary>
    public static RootMetadata Pin(ITufMetadataStore store, ReadOnlySpan<byte> rootEnvelope)
    {
        ArgumentNullException.ThrowIfNull(store);
        var envelope = TufEnvelopes.Parse(rootEnvelope);
        var root = TufEnvelopes.Read(envelope, TufJsonContext.Default.RootMetadata, TufRoles.Root);
        TufEnvelopes.RequireThreshold(envelope, root, TufRoles.Root, TufChecks.RootSignature);
        store.Write(RootFile, rootEnvelope);
        return root;
    }

    public RootMetadata TrustedRoot() => Load(RootFile, TufJsonContext.Default.RootMetadata, TufRoles.Root)
        ?? throw new TufVerificationException(TufChecks.RootSignature, "no root is pinned; the device must enroll first");

    /// <summary>
    /// The targets last verified by <see cref="RefreshAsync"/>, from disk, or null: for offline
    /// decisions about releases already installed (no freshness requirement applies there).
    /// </summary>
    public TargetsMetadata? TrustedTargets() => Load(TargetsFile, TufJsonContext.Default.TargetsMetadata, TufRoles.Targets);

    /// <summary>Brings root, freshness and targets metadata up to date and returns the verified targets.</summary>
    public async Task<TargetsMetadata> RefreshAsync(CancellationToken cancellationToken)
    {
        try
        {
            var root = await UpdateRootAsync(cancellationToken).ConfigureAwait(false);
            var now = timeProvider.GetUtcNow();
            if (root.Expires <= now)
            {
                throw new TufVerificationException(TufChecks.RootExpired, $"root version {root.Version} expired at {root.Expires:O}");
            }

            var timestamp = await UpdateTimestampAsync(root, now, cancellationToken).ConfigureAwait(false);
            return await UpdateTargetsAsync(root, timestamp, now, cancellationToken).ConfigureAwait(false);
        }
        catch (TufFormatException ex)
        {
            throw new TufVerificationException(TufChecks.Metadata, ex.Message);
        }
    }

    /// <summary>
    /// Checks that the signed targets approve exactly this release for this channel: name and
    /// version, manifest digest and length. Throws <see cref="TufVerificationException"/> naming the check.
    /// </summary>
    public static TargetEntry Authorize(TargetsMetadata targets, string name, string version, string channel, string manifestDigest, long manifestLength)
    {
        ArgumentNullException.ThrowIfNull(targets);
        var release = $"{name}:{version}";
        if (!targets.Targets.TryGetValue(release, out var entry))
        {
            throw new TufVerificationException(TufChecks.TargetUnknown, $"release {release} is not in the signed targets (targets version {targets.Version})");
        }

        if (!entry.Channels.Contains(channel, StringComparer.Ordinal))
        {
            throw new TufVerificationException(TufChecks.TargetChannel, $"release {release} is approved for [{string.Join(", ", entry.Channels)}], not for channel '{channel}'");
        }

        if (!string.Equals(entry.Digest, manifestDigest, StringComparison.Ordinal))
        {
            throw new TufVerificationException(TufChecks.TargetDigest, $"release {release} is approved as {entry.Digest}, the package is {manifestDigest}");
        }

        if (entry.Length != manifestLength)
        {
            throw new TufVerificationException(TufChecks.TargetLength, $"release {release} is approved with {entry.Length} manifest bytes, the package has {manifestLength}");
        }

        return entry;
    }

    private async Task<RootMetadata> UpdateRootAsync(CancellationToken cancellationToken)
    {
        var root = TrustedRoot();
        for (var rotations = 0; rotations < MaxRootRotations; rotations++)
        {
            var next = root.Version + 1;
            var bytes = await remote.GetRootAsync(next, cancellationToken).ConfigureAwait(false);
            if (bytes is null)
            {
                return root;
            }

            var envelope = TufEnvelopes.Parse(bytes);
            var candidate = TufEnvelopes.Read(envelope, TufJsonContext.Default.RootMetadata, TufRoles.Root);
            if (candidate.Version != next)
            {
                throw new TufVerificationException(TufChecks.RootVersion, $"asked for root version {next}, got {candidate.Version}");
            }

            // Signed by the threshold of the root it replaces, and by its own.
            TufEnvelopes.RequireThreshold(envelope, root, TufRoles.Root, TufChecks.RootSignature);
            TufEnvelopes.RequireThreshold(envelope, candidate, TufRoles.Root, TufChecks.RootSignature);

            // New online keys void what the old ones signed: forget it, so a compromised old
            // key cannot have pushed the versions out of reach of the new one.
            if (RoleChanged(root, candidate, TufRoles.Timestamp) || RoleChanged(root, candidate, TufRoles.Targets))
            {
                store.Delete(TimestampFile);
                store.Delete(TargetsFile);
            }

            store.Write(RootFile, bytes);
            root = candidate;
        }

        throw new TufVerificationException(TufChecks.RootVersion, $"more than {MaxRootRotations} root versions in one refresh");
    }

    private async Task<TimestampMetadata> UpdateTimestampAsync(RootMetadata root, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var bytes = await remote.GetTimestampAsync(cancellationToken).ConfigureAwait(false);
        var envelope = TufEnvelopes.Parse(bytes);
        var timestamp = TufEnvelopes.Read(envelope, TufJsonContext.Default.TimestampMetadata, TufRoles.Timestamp);
        TufEnvelopes.RequireThreshold(envelope, root, TufRoles.Timestamp, TufChecks.TimestampSignature);

        if (Load(TimestampFile, TufJsonContext.Default.TimestampMetadata, TufRoles.Timestamp) is { } seen)
        {
            if (timestamp.Version < seen.Version)
            {
                throw new TufVerificationException(TufChecks.TimestampRollback, $"timestamp version {timestamp.Version} is older than version {seen.Version} already seen");
            }

            if (timestamp.Targets.Version < seen.Targets.Version)
            {
                throw new TufVerificationException(TufChecks.TargetsRollback, $"timestamp names targets version {timestamp.Targets.Version}, older than version {seen.Targets.Version} already seen");
            }
        }

        if (timestamp.Expires <= now)
        {
            throw new TufVerificationException(TufChecks.TimestampExpired, $"timestamp version {timestamp.Version} expired at {timestamp.Expires:O}");
        }

        store.Write(TimestampFile, bytes);
        return timestamp;
    }

    private async Task<TargetsMetadata> UpdateTargetsAsync(RootMetadata root, TimestampMetadata timestamp, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var bytes = await remote.GetTargetsAsync(cancellationToken).ConfigureAwait(false);
        var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (bytes.Length != timestamp.Targets.Length || !string.Equals(hash, timestamp.Targets.Sha256, StringComparison.Ordinal))
        {
            throw new TufVerificationException(
                TufChecks.TargetsHash,
                $"targets metadata ({bytes.Length} bytes, sha256 {hash}) is not the one timestamp version {timestamp.Version} names ({timestamp.Targets.Length} bytes, sha256 {timestamp.Targets.Sha256})");
        }

        var envelope = TufEnvelopes.Parse(bytes);
        var targets = TufEnvelopes.Read(envelope, TufJsonContext.Default.TargetsMetadata, TufRoles.Targets);
        TufEnvelopes.RequireThreshold(envelope, root, TufRoles.Targets, TufChecks.TargetsSignature);
        if (targets.Version != timestamp.Targets.Version)
        {
            throw new TufVerificationException(TufChecks.TargetsVersion, $"targets version {targets.Version}, timestamp names {timestamp.Targets.Version}");
        }

        if (Load(TargetsFile, TufJsonContext.Default.TargetsMetadata, TufRoles.Targets) is { } seen && targets.Version < seen.Version)
        {
            throw new TufVerificationException(TufChecks.TargetsRollback, $"targets version {targets.Version} is older than version {seen.Version} already seen");
        }

        if (targets.Expires <= now)
        {
            throw new TufVerificationException(TufChecks.TargetsExpired, $"targets version {targets.Version} expired at {targets.Expires:O}");
        }

        store.Write(TargetsFile, bytes);
        return targets;
    }

    private static bool RoleChanged(RootMetadata before, RootMetadata after, string role)
    {
        var a = before.Roles.GetValueOrDefault(role);
        var b = after.Roles.GetValueOrDefault(role);
        return a is null || b is null || a.Threshold != b.Threshold || !a.KeyIds.Order(StringComparer.Ordinal).SequenceEqual(b.KeyIds.Order(StringComparer.Ordinal), StringComparer.Ordinal);
    }

    private T? Load<T>(string file, JsonTypeInfo<T> type, string role)
        where T : class
    {
        return store.Read(file) is { } bytes ? TufEnvelopes.Read(TufEnvelopes.Parse(bytes), type, role) : null;
    }
}
