using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EdgePlatform.ControlPlane.Host.Tests;

/// <summary>A valid certificate signing request for tests that enroll devices without connecting them.</summary>
public static class TestCsr
{
    private static readonly Lazy<string> Request = new(() =>
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return new CertificateRequest("CN=test-device", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
    });

    public static string Pem => Request.Value;
}
