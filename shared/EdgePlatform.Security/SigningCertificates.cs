using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EdgePlatform.Security;

/// <summary>
/// Creates the key hierarchy that model signatures chain to: an offline-capable root CA and
/// short-lived-capable signing certificates it issues with the code-signing usage.
/// </summary>
public static class SigningCertificates
{
    public const string CodeSigningOid = "1.3.6.1.5.5.7.3.3";

    public static X509Certificate2 CreateRoot(string commonName, DateTimeOffset now, TimeSpan lifetime)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 1, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(now.AddMinutes(-5), now.Add(lifetime));
    }

    public static X509Certificate2 IssueSigningCertificate(X509Certificate2 issuer, string commonName, DateTimeOffset now, TimeSpan lifetime)
    {
        ArgumentNullException.ThrowIfNull(issuer);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(CodeSigningOid)], true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));

        var notAfter = now.Add(lifetime) < issuer.NotAfter ? now.Add(lifetime) : new DateTimeOffset(issuer.NotAfter);
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var certificate = request.Create(issuer, now.AddMinutes(-5), notAfter, serial);
        return certificate.CopyWithPrivateKey(key);
    }

    /// <summary>Loads a certificate and its ECDSA private key from PEM texts.</summary>
    public static X509Certificate2 LoadWithKey(string certificatePem, string privateKeyPem) =>
        X509Certificate2.CreateFromPem(certificatePem, privateKeyPem);

    public static string ExportPrivateKeyPem(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        using var key = certificate.GetECDsaPrivateKey()
            ?? throw new InvalidOperationException($"certificate '{certificate.Subject}' has no ECDSA private key");
        return key.ExportPkcs8PrivateKeyPem();
    }

    /// <summary>Parses every certificate in a PEM bundle.</summary>
    public static IReadOnlyList<X509Certificate2> ParseBundle(string pem)
    {
        var collection = new X509Certificate2Collection();
        collection.ImportFromPem(pem);
        if (collection.Count == 0)
        {
            throw new CryptographicException("the trust bundle holds no PEM certificate");
        }

        return [.. collection];
    }
}
