using System.Security.Cryptography;

namespace EdgePlatform.Contracts;

/// <summary>OCI content digests (<c>sha256:&lt;64 lowercase hex&gt;</c>).</summary>
public static class ContentDigest
{
    public const string Sha256Prefix = "sha256:";

    public static string Compute(ReadOnlySpan<byte> content) =>
        Sha256Prefix + Convert.ToHexStringLower(SHA256.HashData(content));

    public static async Task<string> ComputeAsync(Stream content, CancellationToken cancellationToken)
    {
        var hash = await SHA256.HashDataAsync(content, cancellationToken).ConfigureAwait(false);
        return Sha256Prefix + Convert.ToHexStringLower(hash);
    }

    public static string FromHash(ReadOnlySpan<byte> sha256) => Sha256Prefix + Convert.ToHexStringLower(sha256);

    /// <summary>True for a well-formed sha256 digest; only sha256 is accepted.</summary>
    public static bool IsValid(string? digest)
    {
        if (digest is null || digest.Length != Sha256Prefix.Length + 64 || !digest.StartsWith(Sha256Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var c in digest.AsSpan(Sha256Prefix.Length))
        {
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The hex part of a valid digest, for use as a file name.</summary>
    public static string Hex(string digest) =>
        IsValid(digest) ? digest[Sha256Prefix.Length..] : throw new ArgumentException($"'{digest}' is not a sha256 digest", nameof(digest));
}
