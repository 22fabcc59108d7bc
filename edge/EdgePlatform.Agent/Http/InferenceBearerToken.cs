using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Http;

/// <summary>
/// The token of <see cref="InferenceHttpOptions.BearerTokenFile"/>, read once at start; every
/// request to the endpoint must carry it when one is configured. Compared as SHA-256 digests in
/// constant time, so neither the token's content nor its length shows in response times.
/// </summary>
public sealed class InferenceBearerToken(IOptions<InferenceHttpOptions> options)
{
    /// <summary>Shorter than this, a token could be guessed.</summary>
    public const int MinimumLength = 16;

    private readonly byte[]? _digest = options.Value.BearerTokenFile is { Length: > 0 } file
        ? SHA256.HashData(Encoding.UTF8.GetBytes(File.ReadAllText(file).Trim()))
        : null;

    /// <summary>What is wrong with a token file, or null.</summary>
    public static string? Problem(string file)
    {
        if (!File.Exists(file))
        {
            return "does not exist";
        }

        return File.ReadAllText(file).Trim().Length < MinimumLength ? $"holds a token shorter than {MinimumLength} characters" : null;
    }

    /// <summary>Whether a request with this <c>Authorization</c> header may be served.</summary>
    public bool Admits(string? authorization)
    {
        if (_digest is null)
        {
            return true;
        }

        const string Scheme = "Bearer ";
        var presented = authorization is not null && authorization.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase)
            ? authorization[Scheme.Length..].Trim()
            : string.Empty;
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), _digest);
    }
}
