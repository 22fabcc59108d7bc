using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EdgePlatform.Security.Tuf;

/// <summary>
/// A metadata signing key: an ECDSA P-256 key pair with a self-signed certificate (CMS needs
/// one). Its id is the SHA-256 of the public key, so a role names keys, not certificates.
/// </summary>
public sealed class TufSigningKey : IDisposable
{
    public const string KeyType = "ecdsa-p256";

    private readonly X509Certificate2 _certificate;

    private TufSigningKey(X509Certificate2 certificate)
    {
        _certificate = certificate;
        KeyId = TufKeys.KeyIdOf(certificate);
    }

    public string KeyId { get; }

    public TufKey PublicKey => new(KeyType, Convert.ToBase64String(_certificate.RawData));

    public static TufSigningKey Create(string name, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));

        // Round-trip through PEM so the certificate owns its key independently of 'key'.
        using var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(20));
        var pem = certificate.ExportCertificatePem() + "\n" + key.ExportPkcs8PrivateKeyPem();
        return new TufSigningKey(X509Certificate2.CreateFromPem(pem, pem));
    }

    /// <summary>Loads a key written by <see cref="ExportPem"/>.</summary>
    public static TufSigningKey FromPem(string pem)
    {
        try
        {
            return new TufSigningKey(X509Certificate2.CreateFromPem(pem, pem));
        }
        catch (CryptographicException ex)
        {
            throw new TufFormatException($"not a signing key file (a PEM certificate and private key): {ex.Message}", ex);
        }
    }

    /// <summary>The certificate alone, to hand to whoever builds a root naming this key.</summary>
    public string ExportPublicPem() => _certificate.ExportCertificatePem() + "\n";

    /// <summary>Certificate and private key in one PEM text; keep it at mode 0600.</summary>
    public string ExportPem()
    {
        using var key = _certificate.GetECDsaPrivateKey()!;
        return _certificate.ExportCertificatePem() + "\n" + key.ExportPkcs8PrivateKeyPem() + "\n";
    }

    public EnvelopeSignature Sign(ReadOnlySpan<byte> canonical, DateTimeOffset now) =>
        new(KeyId, Convert.ToBase64String(CmsDetachedSignature.Sign(canonical, [_certificate], now)));

    /// <summary>One CMS detached signature with a SignerInfo per key, for a threshold of signers.</summary>
    public static byte[] SignDetached(ReadOnlySpan<byte> content, IReadOnlyList<TufSigningKey> keys, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(keys);
        return CmsDetachedSignature.Sign(content, keys.Select(k => k._certificate), now);
    }

    public void Dispose() => _certificate.Dispose();
}

public static class TufKeys
{
    public static string KeyIdOf(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return Convert.ToHexStringLower(SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo()));
    }

    /// <summary>
    /// The public key from a PEM file that holds the key's certificate (with or without the
    /// private key), so a root can name keys whose private halves are held elsewhere.
    /// </summary>
    public static (string KeyId, TufKey Key) PublicFromPem(string pem)
    {
        try
        {
            using var certificate = X509Certificate2.CreateFromPem(pem);
            return (KeyIdOf(certificate), new TufKey(TufSigningKey.KeyType, Convert.ToBase64String(certificate.RawData)));
        }
        catch (CryptographicException ex)
        {
            throw new TufFormatException($"no PEM certificate found: {ex.Message}", ex);
        }
    }

    public static X509Certificate2 CertificateOf(TufKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!string.Equals(key.KeyType, TufSigningKey.KeyType, StringComparison.Ordinal))
        {
            throw new TufFormatException($"key type '{key.KeyType}' is not supported (only {TufSigningKey.KeyType})");
        }

        try
        {
            return X509CertificateLoader.LoadCertificate(Convert.FromBase64String(key.Certificate));
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException)
        {
            throw new TufFormatException($"a key's certificate does not parse: {ex.Message}", ex);
        }
    }
}
