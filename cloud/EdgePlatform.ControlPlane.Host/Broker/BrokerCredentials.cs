using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EdgePlatform.ControlPlane.Host.Hosting;
using EdgePlatform.ControlPlane.Leases;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Host.Broker;

/// <summary>
/// The certificates of the device link, issued by the device CA at each start: the broker's TLS
/// server certificate, and the control plane's own client certificate. The latter's common name
/// cannot be a device id (device ids never contain '$'), and its key exists only in this process.
/// </summary>
public sealed class BrokerCredentials : IDisposable
{
    public const string ControlPlaneUserName = "$control-plane";

    public BrokerCredentials(ServerBootstrap bootstrap, IOptions<BrokerOptions> options, IOptions<ReplicaOptions> replica, TimeProvider timeProvider)
    {
        var now = timeProvider.GetUtcNow();
        IEnumerable<string> hosts = [bootstrap.Options.BindAddress, "localhost", "127.0.0.1", .. options.Value.HostNames];
        if (options.Value.IsExternal)
        {
            hosts = hosts.Append(options.Value.Host);
        }

        ServerCertificate = bootstrap.DeviceCa.IssueServerCertificate("edgeplatform-broker", hosts.Distinct(StringComparer.Ordinal), now, TimeSpan.FromDays(365));
        ClientCertificate = bootstrap.DeviceCa.IssueClientCertificate(ControlPlaneUserName, now, TimeSpan.FromDays(365));
        CaCertificate = X509Certificate2.CreateFromPem(bootstrap.DeviceCa.CertificatePem);
        ControlPlaneClientId = "edgeplatform-cp-" + Convert.ToHexStringLower(SHA256.HashData(
            System.Text.Encoding.UTF8.GetBytes("mqtt-client-id\n" + bootstrap.EnrollmentKey)))[..20] + "-" + replica.Value.Id;
    }

    /// <summary>
    /// This replica's MQTT client id, and so its broker session's id: stable for this installation
    /// and <c>Replica:Id</c> (the broker keeps the session across restarts, and replicas sharing
    /// one broker each have their own), and with a part derived from a secret, so no device can
    /// guess it and take a control plane's session over.
    /// </summary>
    public string ControlPlaneClientId { get; }

    public X509Certificate2 ServerCertificate { get; }

    public X509Certificate2 ClientCertificate { get; }

    public X509Certificate2 CaCertificate { get; }

    /// <summary>True for the control plane's own client certificate.</summary>
    public bool IsControlPlane(X509Certificate? certificate) =>
        certificate is not null && CryptographicOperations.FixedTimeEquals(certificate.GetCertHash(HashAlgorithmName.SHA256), ClientCertificate.GetCertHash(HashAlgorithmName.SHA256));

    public void Dispose()
    {
        ServerCertificate.Dispose();
        ClientCertificate.Dispose();
        CaCertificate.Dispose();
    }
}
