using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EdgePlatform.Security.Pki;

namespace EdgePlatform.Security.Tests.Pki;

public sealed class CertificateAuthorityTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 1, 10, 9, 0, 0, TimeSpan.Zero);
    private readonly CertificateAuthority _ca = CertificateAuthority.Create("test CA", Now.AddDays(-1));

    public void Dispose() => _ca.Dispose();

    [Fact]
    public void IssueDeviceCertificate_CsrNamingSomeoneElse_SubjectIsTheDeviceIdAndKeyIsTheCsrs()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = new CertificateRequest("CN=admin", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();

        using var certificate = _ca.IssueDeviceCertificate(csr, "dev-7", Now, TimeSpan.FromDays(30));

        Assert.Equal("dev-7", CertificateAuthority.CommonName(certificate));
        using var publicKey = certificate.GetECDsaPublicKey()!;
        Assert.Equal(key.ExportSubjectPublicKeyInfo(), publicKey.ExportSubjectPublicKeyInfo());
        Assert.True(_ca.Issued(certificate, Now, out _));
    }

    [Fact]
    public void IssueDeviceCertificate_TamperedCsr_IsRefused()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var der = new CertificateRequest("CN=dev", key, HashAlgorithmName.SHA256).CreateSigningRequest();
        der[^1] ^= 0x01;
        var tampered = PemEncoding.WriteString("CERTIFICATE REQUEST", der);

        Assert.Throws<CertificateException>(() => _ca.IssueDeviceCertificate(tampered, "dev", Now, TimeSpan.FromDays(1)));
    }

    [Fact]
    public void IssueDeviceCertificate_RsaKey_IsRefused()
    {
        using var key = RSA.Create(2048);
        var csr = new CertificateRequest("CN=dev", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1).CreateSigningRequestPem();

        var error = Assert.Throws<CertificateException>(() => _ca.IssueDeviceCertificate(csr, "dev", Now, TimeSpan.FromDays(1)));

        Assert.Contains("ECDSA", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Issued_OtherCaExpiredOrServerCertificate_False()
    {
        using var other = CertificateAuthority.Create("other", Now.AddDays(-1));
        using var foreign = other.IssueClientCertificate("dev", Now, TimeSpan.FromDays(1));
        using var shortLived = _ca.IssueClientCertificate("dev", Now, TimeSpan.FromDays(1));
        using var server = _ca.IssueServerCertificate("broker", ["127.0.0.1", "localhost"], Now, TimeSpan.FromDays(1));

        Assert.False(_ca.Issued(foreign, Now, out _));
        Assert.False(_ca.Issued(shortLived, Now.AddDays(2), out var expired));
        Assert.False(_ca.Issued(server, Now, out _));
        Assert.NotEmpty(expired);
    }

    [Fact]
    public void ExportPem_RoundTrip_IssuesCertificatesTheOriginalAccepts()
    {
        using var loaded = CertificateAuthority.FromPem(_ca.ExportPem());
        using var certificate = loaded.IssueClientCertificate("dev", Now, TimeSpan.FromDays(1));

        Assert.True(_ca.Issued(certificate, Now, out _));
    }
}
