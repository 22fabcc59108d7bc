using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Host.Tests;

/// <summary>An enrolled device as a test drives it: its enrollment answer and its certificate with the private key.</summary>
public sealed record TestDevice(string Id, EnrollmentResponse Enrollment, X509Certificate2 Certificate, ECDsa Key) : IDisposable
{
    public X509Certificate2 CaCertificate => X509Certificate2.CreateFromPem(Enrollment.CaCertificate);

    /// <summary>MQTT 5 over mutual TLS as this device, its id as the client id.</summary>
    public MQTTnet.MqttClientOptions MqttOptions() => MqttOptions(Certificate, Id);

    /// <summary>
    /// MQTT 5 over TLS to this device's broker, trusting only its CA, presenting
    /// <paramref name="certificate"/> (none when null) with <paramref name="clientId"/>.
    /// </summary>
    public MQTTnet.MqttClientOptions MqttOptions(X509Certificate2? certificate, string clientId)
    {
        var ca = CaCertificate;
        var tls = new MQTTnet.MqttClientTlsOptionsBuilder()
            .UseTls()
            .WithTargetHost(Enrollment.MqttHost)
            .WithCertificateValidationHandler(args =>
            {
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(X509CertificateLoader.LoadCertificate(args.Certificate.GetRawCertData()));
            });
        if (certificate is not null)
        {
            tls.WithClientCertificates([certificate]);
        }

        return new MQTTnet.MqttClientOptionsBuilder()
            .WithTcpServer(Enrollment.MqttHost, Enrollment.MqttPort)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithClientId(clientId)
            .WithTlsOptions(tls.Build())
            .WithTimeout(TimeSpan.FromSeconds(30))
            .Build();
    }

    public void Dispose()
    {
        Certificate.Dispose();
        Key.Dispose();
    }
}

public static class TestDevices
{
    /// <summary>A fresh P-256 key and a PEM signing request for it naming <paramref name="deviceId"/>.</summary>
    public static (ECDsa Key, string Csr) NewKey(string deviceId)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return (key, new CertificateRequest($"CN={deviceId}", key, HashAlgorithmName.SHA256).CreateSigningRequestPem());
    }

    /// <summary>An enrollment request for <paramref name="deviceId"/> with its own key, derived from <paramref name="groupKey"/>.</summary>
    public static EnrollmentRequest Request(string deviceId, string groupKey, out ECDsa key)
    {
        (key, var csr) = NewKey(deviceId);
        return new EnrollmentRequest(deviceId, EdgePlatform.Security.EnrollmentKeys.Derive(groupKey, deviceId), null, csr);
    }

    /// <summary>Enrolls <paramref name="deviceId"/> with its key derived from <paramref name="groupKey"/> (the server's, as a rule).</summary>
    public static async Task<TestDevice> EnrollAsync(HttpClient http, string groupKey, string deviceId)
    {
        var request = Request(deviceId, groupKey, out var key);
        using var response = await http.PostAsJsonAsync(new Uri("/api/v1/enrollments/devices", UriKind.Relative), request, ContractsJsonContext.Default.EnrollmentRequest);
        response.EnsureSuccessStatusCode();
        var enrollment = (await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.EnrollmentResponse))!;
        using var certificate = X509Certificate2.CreateFromPem(enrollment.Certificate);
        return new TestDevice(deviceId, enrollment, certificate.CopyWithPrivateKey(key), key);
    }

    public static async Task<TestDevice> EnrollAsync(this ControlPlaneFactory server, string deviceId)
    {
        using var http = server.CreateClient();
        return await EnrollAsync(http, server.EnrollmentKey, deviceId);
    }
}
