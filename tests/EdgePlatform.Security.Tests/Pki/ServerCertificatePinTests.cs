using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using EdgePlatform.Security.Pki;
using EdgePlatform.Tests.Tls;

namespace EdgePlatform.Security.Tests.Pki;

/// <summary>Real TLS handshakes over loopback, judged as the agent and edgectl judge the control plane.</summary>
public sealed class ServerCertificatePinTests : IDisposable
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;
    private readonly CertificateAuthority _ca = CertificateAuthority.Create("control plane CA", Now.AddDays(-1));
    private readonly CertificateAuthority _other = CertificateAuthority.Create("someone else's CA", Now.AddDays(-1));

    public void Dispose()
    {
        _ca.Dispose();
        _other.Dispose();
    }

    [Fact]
    public async Task CaFile_ServerFromThatCaNamingTheHost_IsAccepted()
    {
        using var server = _ca.IssueServerCertificate("api", ["127.0.0.1"], Now, TimeSpan.FromDays(1));

        await HandshakeAsync(server, ServerCertificatePin.ForCa(_ca.Certificate));
    }

    [Fact]
    public async Task CaFile_ServerFromAnotherCa_IsRefusedWithTheReason()
    {
        using var server = _other.IssueServerCertificate("api", ["127.0.0.1"], Now, TimeSpan.FromDays(1));
        var pin = ServerCertificatePin.ForCa(_ca.Certificate);

        await Assert.ThrowsAsync<AuthenticationException>(() => HandshakeAsync(server, pin));

        Assert.Contains("does not chain to the pinned CA", pin.LastRefusal, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CaFile_ServerNamingAnotherHost_IsRefused()
    {
        using var server = _ca.IssueServerCertificate("api", ["api.example"], Now, TimeSpan.FromDays(1));
        var pin = ServerCertificatePin.ForCa(_ca.Certificate);

        await Assert.ThrowsAsync<AuthenticationException>(() => HandshakeAsync(server, pin));

        Assert.Contains("does not name the host", pin.LastRefusal, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fingerprint_OfTheServersCertificate_IsAcceptedAndAnyOtherRefused()
    {
        using var server = _ca.IssueServerCertificate("api", ["127.0.0.1"], Now, TimeSpan.FromDays(1));
        using var impostor = _ca.IssueServerCertificate("api", ["127.0.0.1"], Now, TimeSpan.FromDays(1));
        var pin = ServerCertificatePin.ForFingerprint(ServerCertificatePin.Fingerprint(server).ToUpperInvariant());

        await HandshakeAsync(server, pin);
        await Assert.ThrowsAsync<AuthenticationException>(() => HandshakeAsync(impostor, pin));

        Assert.Contains("does not match the pinned certificate fingerprint", pin.LastRefusal, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("zz00000000000000000000000000000000000000000000000000000000000000")]
    public void FromSettings_NotASha256Fingerprint_NamesTheSetting(string fingerprint)
    {
        var ex = Assert.Throws<ArgumentException>(() => ServerCertificatePin.FromSettings(null, fingerprint, "Agent:ControlPlaneCaFile", "Agent:ControlPlaneFingerprint"));

        Assert.Contains("Agent:ControlPlaneFingerprint", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://10.0.0.5:5080", false)]
    [InlineData("http://cp.example", false)]
    [InlineData("http://127.0.0.1:5080", true)]
    [InlineData("http://localhost:5080", true)]
    [InlineData("https://cp.example", true)]
    public void CleartextRefusal_PlainHttpOnlyToThisMachine(string url, bool allowed)
    {
        Assert.Equal(allowed, ServerCertificatePin.CleartextRefusal(new Uri(url)) is null);
    }

    private static Task HandshakeAsync(X509Certificate2 certificate, ServerCertificatePin pin) =>
        TlsHandshake.RunAsync(certificate, "127.0.0.1", (_, presented, chain, errors) => pin.Accepts(presented as X509Certificate2, chain, errors));
}
