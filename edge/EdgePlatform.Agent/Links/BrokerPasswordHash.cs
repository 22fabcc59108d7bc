using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace EdgePlatform.Agent.Links;

/// <summary>
/// A local broker password as mosquitto 2 stores it: <c>$7$iterations$salt$hash</c>, PBKDF2 with
/// HMAC-SHA-512, salt and hash in base64. The format <c>mosquitto_passwd</c> writes, so a plant's
/// existing password tooling and files work unchanged; the password itself is never stored.
/// </summary>
public sealed class BrokerPasswordHash
{
    private const string Scheme = "7";
    private const int HashBytes = 64;
    private const int SaltBytes = 12;

    /// <summary>What <see cref="Create"/> uses; mosquitto_passwd's own default is 101.</summary>
    public const int DefaultIterations = 210_000;

    private readonly int _iterations;
    private readonly byte[] _salt;
    private readonly byte[] _hash;

    private BrokerPasswordHash(int iterations, byte[] salt, byte[] hash)
    {
        _iterations = iterations;
        _salt = salt;
        _hash = hash;
    }

    /// <summary>A new <c>$7$</c> entry for <paramref name="password"/> with a random salt.</summary>
    public static string Create(string password, int iterations = DefaultIterations)
    {
        ArgumentException.ThrowIfNullOrEmpty(password);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(iterations);
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA512, HashBytes);
        return string.Create(CultureInfo.InvariantCulture, $"${Scheme}${iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}");
    }

    /// <summary>Parses a <c>$7$</c> entry; <paramref name="error"/> says what is wrong with any other.</summary>
    public static bool TryParse(string? encoded, [NotNullWhen(true)] out BrokerPasswordHash? parsed, [NotNullWhen(false)] out string? error)
    {
        parsed = null;
        var parts = (encoded ?? string.Empty).Split('$');
        if (parts.Length != 5 || parts[0].Length != 0 || parts[1] != Scheme)
        {
            error = "is not a PBKDF2-SHA512 hash in mosquitto_passwd's $7$iterations$salt$hash format";
            return false;
        }

        if (!int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var iterations) || iterations <= 0)
        {
            error = $"has iteration count '{parts[2]}'; expected a positive number";
            return false;
        }

        try
        {
            var salt = Convert.FromBase64String(parts[3]);
            var hash = Convert.FromBase64String(parts[4]);
            if (salt.Length == 0 || hash.Length != HashBytes)
            {
                error = $"has a {salt.Length}-byte salt and a {hash.Length}-byte hash; expected a salt and a {HashBytes}-byte hash";
                return false;
            }

            parsed = new BrokerPasswordHash(iterations, salt, hash);
            error = null;
            return true;
        }
        catch (FormatException)
        {
            error = "has a salt or hash that is not base64";
            return false;
        }
    }

    /// <summary>Whether <paramref name="password"/> is the one hashed, compared in constant time.</summary>
    public bool Matches(ReadOnlySpan<byte> password)
    {
        Span<byte> candidate = stackalloc byte[HashBytes];
        Rfc2898DeriveBytes.Pbkdf2(password, _salt, candidate, _iterations, HashAlgorithmName.SHA512);
        return CryptographicOperations.FixedTimeEquals(candidate, _hash);
    }
}
