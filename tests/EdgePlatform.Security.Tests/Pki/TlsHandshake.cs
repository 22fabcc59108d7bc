using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace EdgePlatform.Tests.Tls;

/// <summary>
/// One real TLS handshake over loopback: a server presenting a certificate, and a client that
/// judges it with the callback under test. Throws <see cref="AuthenticationException"/> when the
/// client refuses.
/// </summary>
internal static class TlsHandshake
{
    public static async Task RunAsync(X509Certificate2 serverCertificate, string targetHost, RemoteCertificateValidationCallback judge)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var serving = Task.Run(
            async () =>
            {
                using var accepted = await listener.AcceptTcpClientAsync(deadline.Token);
                await using var tls = new SslStream(accepted.GetStream());
                try
                {
                    await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = serverCertificate }, deadline.Token);
                }
                catch (Exception ex) when (ex is AuthenticationException or IOException)
                {
                    // The client walked away from a certificate it refused.
                }
            },
            deadline.Token);

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port, deadline.Token);
        await using var stream = new SslStream(client.GetStream());
        try
        {
            await stream.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions { TargetHost = targetHost, RemoteCertificateValidationCallback = judge },
                deadline.Token);
        }
        finally
        {
            client.Close();
            await serving;
        }
    }
}
