namespace EdgePlatform.Contracts;

/// <summary>
/// A device's part in an experiment, carried in its desired state: the arm the deployment's model
/// serves (<see cref="Arm"/>) and, when the experiment splits events on the device or runs in
/// shadow, the other arm's model (<see cref="Candidate"/>). The candidate's package is verified
/// against the signed metadata exactly as the deployment's is.
/// </summary>
public sealed record ExperimentPlacement(string ExperimentId, string Arm, ExperimentCandidate? Candidate = null);

/// <summary>
/// The second arm on a device: its model, and how events are shared with the primary.
/// <see cref="Mode"/> is <see cref="ExperimentModes.Split"/> (each event scored by one arm, the
/// candidate taking <see cref="Percent"/> percent of the buckets of <see cref="KeyField"/>'s values,
/// salted with <see cref="Salt"/>; see <see cref="ArmBuckets"/>) or <see cref="ExperimentModes.Shadow"/>
/// (both arms score every event; only the primary's prediction is published).
/// </summary>
public sealed record ExperimentCandidate(string Arm, ModelReference Model, string Mode, double Percent, string KeyField, string Salt);

public static class ExperimentModes
{
    public const string Split = "split";
    public const string Shadow = "shadow";
}

/// <summary>
/// The one rule that assigns a unit (a device id, a group's tag value, an event key) to an arm:
/// FNV-1a over the value's UTF-8 bytes, mixed with the hash of the experiment's salt, into
/// <see cref="Count"/> buckets; the arms, control first, take consecutive runs of buckets in
/// proportion to their weights. The control plane assigns devices and groups with it and the agent
/// assigns events with it, so a unit lands on the same arm across restarts, devices and replicas,
/// and a new salt reshuffles every unit independently of earlier experiments.
/// </summary>
public static class ArmBuckets
{
    /// <summary>Buckets of 0.01 %.</summary>
    public const int Count = 10_000;

    private const uint OffsetBasis = 2166136261;
    private const uint Prime = 16777619;

    /// <summary>FNV-1a over UTF-8 bytes; stable across processes, unlike <see cref="string.GetHashCode()"/>.</summary>
    public static uint Hash(ReadOnlySpan<byte> utf8)
    {
        var hash = OffsetBasis;
        foreach (var b in utf8)
        {
            hash = (hash ^ b) * Prime;
        }

        return hash;
    }

    public static uint Hash(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        Span<byte> buffer = stackalloc byte[256];
        var bytes = System.Text.Encoding.UTF8.GetMaxByteCount(value.Length) <= buffer.Length
            ? buffer[..System.Text.Encoding.UTF8.GetBytes(value, buffer)]
            : System.Text.Encoding.UTF8.GetBytes(value);
        return Hash(bytes);
    }

    /// <summary>
    /// The bucket, 0 to <see cref="Count"/> − 1, of a unit whose value hashes to
    /// <paramref name="valueHash"/> under the salt hashing to <paramref name="saltHash"/>. The
    /// finalizer (MurmurHash3's fmix32) spreads FNV's weak low bits, so buckets stay uniform.
    /// </summary>
    public static int Bucket(uint valueHash, uint saltHash)
    {
        var h = valueHash ^ saltHash;
        h ^= h >> 16;
        h *= 0x85ebca6b;
        h ^= h >> 13;
        h *= 0xc2b2ae35;
        h ^= h >> 16;
        return (int)(h % Count);
    }

    public static int Bucket(string value, string salt) => Bucket(Hash(value), Hash(salt));
}
