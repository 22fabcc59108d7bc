using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace EdgePlatform.Training.Data;

/// <summary>
/// 64-bit hashes of cell values and rows, stable across processes (unlike <see cref="string.GetHashCode()"/>),
/// for distinct-count sketches and duplicate-row detection. Not cryptographic: well mixed, fast.
/// </summary>
internal static class ValueHash
{
    private const ulong Multiplier = 0x9E3779B97F4A7C15UL;

    /// <summary>What a missing cell contributes to its row's hash.</summary>
    public const ulong Missing = 0x5BD1E9955BD1E995UL;

    /// <summary>The seed a row's hash starts from.</summary>
    public const ulong RowSeed = 0xCBF29CE484222325UL;

    public static ulong Of(double value)
    {
        // 0.0 and -0.0 are the same value to a data scientist.
        var bits = value == 0 ? 0UL : (ulong)BitConverter.DoubleToInt64Bits(value);
        return Finish(bits ^ Multiplier);
    }

    public static ulong Of(string value)
    {
        var bytes = MemoryMarshal.AsBytes(value.AsSpan());
        var hash = ((ulong)bytes.Length * Multiplier) ^ RowSeed;
        while (bytes.Length >= 8)
        {
            hash = Step(hash, BinaryPrimitives.ReadUInt64LittleEndian(bytes));
            bytes = bytes[8..];
        }

        if (bytes.Length > 0)
        {
            ulong tail = 0;
            for (var i = 0; i < bytes.Length; i++)
            {
                tail |= (ulong)bytes[i] << (8 * i);
            }

            hash = Step(hash, tail);
        }

        return Finish(hash);
    }

    /// <summary>Folds one cell's hash into its row's, order-sensitive so (a, b) and (b, a) differ.</summary>
    public static ulong Combine(ulong row, ulong cell) => Step(row, cell);

    /// <summary>The splitmix64 finaliser: every input bit affects every output bit.</summary>
    public static ulong Finish(ulong x)
    {
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    private static ulong Step(ulong hash, ulong value)
    {
        hash = (hash ^ value) * Multiplier;
        return hash ^ (hash >> 29);
    }
}
