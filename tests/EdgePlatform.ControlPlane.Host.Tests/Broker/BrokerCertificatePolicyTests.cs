using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EdgePlatform.Mqtt;
using EdgePlatform.Security.Pki;
using EdgePlatform.Tests.Tls;

namespace EdgePlatform.ControlPlane.Host.Tests.Broker;

/// <summary>Real TLS handshakes over loopback, with the agent's check of the broker's certificate.</summary>
public sealed class BrokerCertificatePolicyTests : IDisposable
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;
    private readonly CertificateAuthority _ca = CertificateAuthority.Create("device CA", Now.AddDays(-1));

    public void Dispose() => _ca.Dispose();

    [Fact]
    public async Task Handshake_DeviceCertificateWhoseIdIsTheBrokersHostName_IsRefusedAsAServer()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
        using var issued = _ca.IssueDeviceCertificate(csr, "localhost", Now, TimeSpan.FromDays(1));
        using var device = issued.CopyWithPrivateKey(key);

        var ex = await Assert.ThrowsAsync<AuthenticationException>(() => HandshakeAsync(device, "localhost"));

        Assert.Contains("RemoteCertificateValidationCallback", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Handshake_ServerCertificateFromThePinnedCaNamingTheHost_IsAccepted()
    {
        using var server = _ca.IssueServerCertificate("broker", ["localhost", "127.0.0.1"], Now, TimeSpan.FromDays(1));

        await HandshakeAsync(server, "localhost");
    }

    [Fact]
    public async Task Handshake_ServerCertificateNamingAnotherHost_IsRefused()
    {
        using var server = _ca.IssueServerCertificate("broker", ["broker.example"], Now, TimeSpan.FromDays(1));

        await Assert.ThrowsAsync<AuthenticationException>(() => HandshakeAsync(server, "localhost"));
    }

    /// <summary>A TLS server presenting <paramref name="certificate"/>, and a client that judges it as the agent judges its broker.</summary>
    private Task HandshakeAsync(X509Certificate2 certificate, string host) =>
        TlsHandshake.RunAsync(certificate, host, (_, presented, _, errors) => presented is X509Certificate2 x509 && BrokerCertificatePolicy.Accepts(x509, errors, _ca.Certificate));
}
