using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EdgePlatform.Security.Pki;

/// <summary>
/// A small X.509 certificate authority (ECDSA P-256): the control plane's device CA. It issues
/// device certificates from certificate signing requests (the subject is set by the CA, never
/// taken from the request), the broker's server certificate and the control plane's own
/// client certificate. Everything the broker and the devices need to check a peer chains to
/// this one root.
/// </summary>
public sealed class CertificateAuthority : IDisposable
{
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    private CertificateAuthority(X509Certificate2 certificate)
    {
        Certificate = certificate;
    }

    /// <summary>The CA certificate with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The CA certificate alone, as devices and brokers pin it.</summary>
    public string CertificatePem => Certificate.ExportCertificatePem() + "\n";

    public static CertificateAuthority Create(string name, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={name}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(20));
        return FromPem(certificate.ExportCertificatePem() + "\n" + key.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>Loads a CA written by <see cref="ExportPem"/>.</summary>
    public static CertificateAuthority FromPem(string pem)
    {
        try
        {
            return new CertificateAuthority(X509Certificate2.CreateFromPem(pem, pem));
        }
        catch (CryptographicException ex)
        {
            throw new CertificateException($"not a CA file (a PEM certificate and its private key): {ex.Message}", ex);
        }
    }

    /// <summary>Certificate and private key in one PEM text; keep it at mode 0600.</summary>
    public string ExportPem()
    {
        using var key = Certificate.GetECDsaPrivateKey()!;
        return CertificatePem + key.ExportPkcs8PrivateKeyPem() + "\n";
    }

    /// <summary>
    /// Issues a client certificate for <paramref name="deviceId"/> to the key that signed
    /// <paramref name="csrPem"/>. The request's signature proves possession of the key; its
    /// subject is ignored, the device id becomes the common name.
    /// </summary>
    public X509Certificate2 IssueDeviceCertificate(string csrPem, string deviceId, DateTimeOffset now, TimeSpan validity)
    {
        CertificateRequest csr;
        try
        {
            csr = CertificateRequest.LoadSigningRequestPem(csrPem, HashAlgorithmName.SHA256, CertificateRequestLoadOptions.Default);
        }
        catch (CryptographicException ex)
        {
            throw new CertificateException($"the certificate signing request is not valid: {ex.Message}", ex);
        }

        if (csr.PublicKey.Oid.Value != "1.2.840.10045.2.1")
        {
            throw new CertificateException("the certificate signing request must carry an ECDSA key (P-256)");
        }

        return IssueClientCertificate(csr.PublicKey, deviceId, now, validity);
    }

    /// <summary>Issues a client certificate with a fresh key pair, e.g. for the control plane's own broker session.</summary>
    public X509Certificate2 IssueClientCertificate(string commonName, DateTimeOffset now, TimeSpan validity)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = IssueClientCertificate(new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256).PublicKey, commonName, now, validity);
        return certificate.CopyWithPrivateKey(key);
    }

    /// <summary>Issues a TLS server certificate with a fresh key pair for the given host names and addresses.</summary>
    public X509Certificate2 IssueServerCertificate(string commonName, IEnumerable<string> hosts, DateTimeOffset now, TimeSpan validity)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={commonName}"), key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        foreach (var host in hosts)
        {
            if (System.Net.IPAddress.TryParse(host, out var address))
            {
                names.AddIpAddress(address);
            }
            else
            {
                names.AddDnsName(host);
            }
        }

        request.CertificateExtensions.Add(names.Build());
        AddLeafExtensions(request, ServerAuthentication, X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement);
        using var certificate = request.Create(Certificate, now.AddMinutes(-5), now + validity, NewSerial());
        return certificate.CopyWithPrivateKey(key);
    }

    /// <summary>
    /// True when <paramref name="certificate"/> was issued by this CA, is valid at
    /// <paramref name="now"/> and is meant for client authentication; <paramref name="reason"/>
    /// says why not.
    /// </summary>
    public bool Issued(X509Certificate2 certificate, DateTimeOffset now, out string reason)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Certificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.ApplicationPolicy.Add(ClientAuthentication);
        if (!chain.Build(certificate))
        {
            reason = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).DefaultIfEmpty("not issued by the device CA"));
            return false;
        }

        reason = string.Empty;
        return true;
    }

    /// <summary>The common name of a certificate's subject.</summary>
    public static string CommonName(X509Certificate2 certificate) => certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);

    /// <summary>Hex SHA-256 of the certificate's DER bytes: how a device's current certificate is recorded.</summary>
    public static string Thumbprint(X509Certificate2 certificate) => certificate.GetCertHashString(HashAlgorithmName.SHA256).ToLowerInvariant();

    public void Dispose() => Certificate.Dispose();

    private X509Certificate2 IssueClientCertificate(PublicKey publicKey, string commonName, DateTimeOffset now, TimeSpan validity)
    {
        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName(commonName);
        var request = new CertificateRequest(subject.Build(), publicKey, HashAlgorithmName.SHA256);
        AddLeafExtensions(request, ClientAuthentication, X509KeyUsageFlags.DigitalSignature);
        return request.Create(Certificate, now.AddMinutes(-5), now + validity, NewSerial());
    }

    private void AddLeafExtensions(CertificateRequest request, Oid usage, X509KeyUsageFlags keyUsage)
    {
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(keyUsage, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([usage], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
    }

    private static byte[] NewSerial()
    {
        // Positive, 128 bits of randomness: unique without a counter to persist.
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] = (byte)((serial[0] & 0x7F) | 0x40);
        return serial;
    }
}

/// <summary>A certificate, key or signing request is malformed or not acceptable; the message says which and why.</summary>
public sealed class CertificateException : Exception
{
    public CertificateException()
    {
    }

    public CertificateException(string message)
        : base(message)
    {
    }

    public CertificateException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
