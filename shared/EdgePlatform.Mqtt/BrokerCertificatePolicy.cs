using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EdgePlatform.Mqtt;

/// <summary>
/// Whether a broker's TLS certificate may be trusted: it chains to the pinned CA, it was issued
/// for servers (the serverAuth extended key usage), and it names the host in a subject
/// alternative name. Device certificates come from the same CA with the device id as their common
/// name and no alternative name; checked by chain alone, one whose id is the broker's host name
/// passed as the broker, and the name check fell back to its common name.
/// </summary>
public static class BrokerCertificatePolicy
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1", "Server Authentication");

    /// <param name="presented">The certificate the broker presented.</param>
    /// <param name="errors">What the TLS layer found; only an untrusted root is left to this check to settle.</param>
    /// <param name="ca">The only CA the broker's certificate may chain to.</param>
    public static bool Accepts(X509Certificate2 presented, SslPolicyErrors errors, X509Certificate2 ca)
    {
        ArgumentNullException.ThrowIfNull(presented);
        ArgumentNullException.ThrowIfNull(ca);
        if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None
            || !presented.Extensions.OfType<X509SubjectAlternativeNameExtension>().Any())
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(ServerAuthentication);
        return chain.Build(presented);
    }
}
