using System.Buffers.Text;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgePlatform.Security.Tokens;

/// <summary>
/// The claims of a short-lived bearer token, named as in RFC 7519 and as the CNCF distribution
/// registry's token authentication reads them (<c>access</c> lists what a registry token grants).
/// </summary>
public sealed record TokenClaims(
    [property: JsonPropertyName("iss")] string Issuer,
    [property: JsonPropertyName("sub")] string Subject,
    [property: JsonPropertyName("aud")] string Audience,
    [property: JsonPropertyName("iat")] long IssuedAt,
    [property: JsonPropertyName("nbf")] long NotBefore,
    [property: JsonPropertyName("exp")] long Expires,
    [property: JsonPropertyName("jti")] string Id,
    [property: JsonPropertyName("access")] IReadOnlyList<TokenAccess>? Access = null)
{
    public DateTimeOffset ExpiresAt => DateTimeOffset.FromUnixTimeSeconds(Expires);
}

/// <summary>One grant: <c>repository</c> <paramref name="Name"/> with actions such as <c>pull</c>, <c>push</c>.</summary>
public sealed record TokenAccess(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("actions")] IReadOnlyList<string> Actions);

/// <summary>JWS header: ES256, with the signing certificate so a registry can chain it to its bundle.</summary>
public sealed record TokenHeader(
    [property: JsonPropertyName("alg")] string Algorithm,
    [property: JsonPropertyName("typ")] string Type,
    [property: JsonPropertyName("x5c")] IReadOnlyList<string>? CertificateChain);

[JsonSerializable(typeof(TokenClaims))]
[JsonSerializable(typeof(TokenHeader))]
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
internal sealed partial class TokenJsonContext : JsonSerializerContext;

/// <summary>
/// Issues and checks compact JWS tokens (ES256) with one key pair. The key's self-signed
/// certificate rides in the <c>x5c</c> header and is what a distribution registry configured
/// with <c>auth: token</c> lists as its <c>rootcertbundle</c>.
/// </summary>
public sealed class TokenSigner : IDisposable
{
    private const string Algorithm = "ES256";
    private readonly X509Certificate2 _certificate;
    private readonly ECDsa _key;
    private readonly string _encodedHeader;

    private TokenSigner(X509Certificate2 certificate)
    {
        _certificate = certificate;
        _key = certificate.GetECDsaPrivateKey() ?? throw new Pki.CertificateException("the token signing certificate has no ECDSA private key");
        var header = new TokenHeader(Algorithm, "JWT", [Convert.ToBase64String(certificate.RawData)]);
        _encodedHeader = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(header, TokenJsonContext.Default.TokenHeader));
    }

    /// <summary>The certificate alone (PEM), for a registry's <c>rootcertbundle</c>.</summary>
    public string CertificatePem => _certificate.ExportCertificatePem() + "\n";

    public static TokenSigner Create(string name, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        using var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(10));
        return FromPem(certificate.ExportCertificatePem() + "\n" + key.ExportPkcs8PrivateKeyPem());
    }

    public static TokenSigner FromPem(string pem) => new(X509Certificate2.CreateFromPem(pem, pem));

    /// <summary>Certificate and private key in one PEM text; keep it at mode 0600.</summary>
    public string ExportPem() => CertificatePem + _key.ExportPkcs8PrivateKeyPem() + "\n";

    public string Issue(TokenClaims claims)
    {
        var payload = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(claims, TokenJsonContext.Default.TokenClaims));
        var signingInput = _encodedHeader + "." + payload;

        // JWS wants the raw r||s form, which is .NET's IEEE P1363 default.
        var signature = _key.SignData(System.Text.Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256);
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    /// <summary>
    /// The claims of <paramref name="token"/> when it carries this key's signature, names
    /// <paramref name="audience"/> and is valid at <paramref name="now"/>; otherwise null, with
    /// <paramref name="reason"/> saying why (expired, not yet valid, wrong audience, bad signature).
    /// </summary>
    public TokenClaims? Validate(string? token, string audience, DateTimeOffset now, out string reason)
    {
        var parts = token?.Split('.') ?? [];
        if (parts.Length != 3)
        {
            reason = "not a signed token";
            return null;
        }

        TokenClaims? claims;
        try
        {
            var signature = Base64Url.DecodeFromChars(parts[2]);
            if (!_key.VerifyData(System.Text.Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), signature, HashAlgorithmName.SHA256))
            {
                reason = "the signature is not the control plane's";
                return null;
            }

            claims = JsonSerializer.Deserialize(Base64Url.DecodeFromChars(parts[1]), TokenJsonContext.Default.TokenClaims);
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            reason = "the token is malformed";
            return null;
        }

        var seconds = now.ToUnixTimeSeconds();
        reason = claims switch
        {
            null => "the token has no claims",
            _ when !string.Equals(claims.Audience, audience, StringComparison.Ordinal) => $"the token is for '{claims.Audience}', not '{audience}'",
            _ when claims.Expires <= seconds => $"the token expired at {claims.ExpiresAt:O}",
            _ when claims.NotBefore > seconds + 30 => "the token is not valid yet",
            _ => string.Empty,
        };
        return reason.Length == 0 ? claims : null;
    }

    public void Dispose()
    {
        _key.Dispose();
        _certificate.Dispose();
    }
}
