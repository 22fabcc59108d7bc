using System.Security.Cryptography;
using EdgePlatform.Security.Tuf;

namespace EdgePlatform.Security.Tests.Tuf;

/// <summary>Building and signing metadata documents for tests, at a fixed point in time.</summary>
internal static class TufTestData
{
    public static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    public static readonly string DigestA = "sha256:" + new string('a', 64);

    public static readonly string DigestB = "sha256:" + new string('b', 64);

    public static RootMetadata RootDocument(
        long version,
        IReadOnlyList<TufSigningKey> root,
        IReadOnlyList<TufSigningKey> targets,
        IReadOnlyList<TufSigningKey> timestamp,
        int rootThreshold = 1,
        int targetsThreshold = 1) =>
        TufRepository.NewRoot(
            version,
            Now.AddDays(365),
            new Dictionary<string, (IReadOnlyList<TufSigningKey>, int)>
            {
                [TufRoles.Root] = (root, rootThreshold),
                [TufRoles.Targets] = (targets, targetsThreshold),
                [TufRoles.Timestamp] = (timestamp, 1),
            });

    public static byte[] Sign(RootMetadata root, params TufSigningKey[] signers) =>
        TufEnvelopes.Serialize(TufEnvelopes.Create(root, TufJsonContext.Default.RootMetadata, signers, Now));

    public static byte[] Sign(TargetsMetadata targets, params TufSigningKey[] signers) =>
        TufEnvelopes.Serialize(TufEnvelopes.Create(targets, TufJsonContext.Default.TargetsMetadata, signers, Now));

    public static byte[] Sign(TimestampMetadata timestamp, params TufSigningKey[] signers) =>
        TufEnvelopes.Serialize(TufEnvelopes.Create(timestamp, TufJsonContext.Default.TimestampMetadata, signers, Now));

    public static TargetsMetadata Targets(long version, params (string Release, TargetEntry Entry)[] entries) =>
        new(TufRoles.Targets, version, Now.AddDays(30), entries.ToDictionary(e => e.Release, e => e.Entry, StringComparer.Ordinal));

    public static TargetEntry Entry(string digest, long length = 100, params string[] channels) =>
        new("models/sensor", digest, length, channels.Length == 0 ? ["production"] : channels);

    /// <summary>A freshness document naming the given targets file, as a compromised or careless timestamp key might sign it.</summary>
    public static TimestampMetadata TimestampFor(long version, byte[] targetsFile, long targetsVersion, DateTimeOffset expires) =>
        new(TufRoles.Timestamp, version, expires, new MetaFile(targetsVersion, targetsFile.Length, Convert.ToHexStringLower(SHA256.HashData(targetsFile))));
}

/// <summary>Signing keys created for one test and disposed with it.</summary>
internal sealed class TestKeys : IDisposable
{
    private readonly List<TufSigningKey> _keys = [];

    public TufSigningKey New(string name)
    {
        var key = TufSigningKey.Create(name, TufTestData.Now);
        _keys.Add(key);
        return key;
    }

    public void Dispose()
    {
        foreach (var key in _keys)
        {
            key.Dispose();
        }
    }
}
