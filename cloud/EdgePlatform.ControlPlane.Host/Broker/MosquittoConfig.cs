using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Hosting;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Host.Broker;

/// <summary>
/// Writes a mosquitto configuration that gives the same guarantees as the embedded broker: a TLS
/// listener that requires a certificate from the device CA and takes the device id from it
/// (<c>use_identity_as_username</c>), ACL patterns that keep each device to its own topics, the
/// control plane as the one privileged user, and a revocation list of revoked devices'
/// certificates. mosquitto reads the revocation list when it (re)starts its listener.
/// </summary>
public sealed partial class MosquittoConfigWriter(
    ServerBootstrap bootstrap,
    BrokerCredentials credentials,
    IDeviceStore devices,
    IOptions<BrokerOptions> options,
    TimeProvider timeProvider,
    ILogger<MosquittoConfigWriter> logger) : IHostedService, IDisposable
{
    public const string ConfigFileName = "mosquitto.conf";

    private readonly SemaphoreSlim _gate = new(1, 1);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.MosquittoConfigDirectory is not { Length: > 0 } directory)
        {
            return;
        }

        directory = Path.GetFullPath(directory);
        Directory.CreateDirectory(Path.Combine(directory, "data"));
        WriteFile(directory, "ca.crt", bootstrap.DeviceCa.CertificatePem, secret: false);
        WriteFile(directory, "server.crt", credentials.ServerCertificate.ExportCertificatePem() + "\n", secret: false);
        using (var key = credentials.ServerCertificate.GetECDsaPrivateKey()!)
        {
            WriteFile(directory, "server.key", key.ExportPkcs8PrivateKeyPem() + "\n", secret: true);
        }

        WriteFile(directory, "acl", Acl(), secret: false);
        WriteFile(directory, ConfigFileName, Config(directory, options.Value), secret: false);
        await WriteRevocationListAsync(cancellationToken).ConfigureAwait(false);
        LogWritten(directory);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _gate.Dispose();

    /// <summary>Rewrites <c>crl.pem</c> with the current certificate of every revoked device.</summary>
    public async Task WriteRevocationListAsync(CancellationToken cancellationToken)
    {
        if (options.Value.MosquittoConfigDirectory is not { Length: > 0 } directory)
        {
            return;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var now = timeProvider.GetUtcNow();
            var builder = new CertificateRevocationListBuilder();
            foreach (var device in await devices.ListDevicesAsync(cancellationToken).ConfigureAwait(false))
            {
                if (device is { Status: DeviceStatuses.Revoked, Certificate: { } pem })
                {
                    using var certificate = X509Certificate2.CreateFromPem(pem);
                    builder.AddEntry(certificate, device.LastSeen ?? now);
                }
            }

            var crl = builder.Build(bootstrap.DeviceCa.Certificate, new System.Numerics.BigInteger(now.ToUnixTimeMilliseconds()), now.AddYears(1), System.Security.Cryptography.HashAlgorithmName.SHA256);
            WriteFile(Path.GetFullPath(directory), "crl.pem", System.Security.Cryptography.PemEncoding.WriteString("X509 CRL", crl) + "\n", secret: false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Each device may read its own subtree and publish only its reported twin, status and
    /// telemetry. The control plane's replicas are all one user, and mosquitto 2.0 lets the
    /// control plane's entry cover their shared subscriptions (<c>$share/&lt;group&gt;/devices/...</c>)
    /// as well: they need none of their own (the shared-ingest tests run with this file).
    /// </summary>
    public static string Acl() => $"""
        # Written by the EdgePlatform control plane; regenerated on every start.
        # The control plane: reads and writes every device's topics, which lets its replicas
        # subscribe through shared subscriptions ($share/<group>/{Topics.DeviceRoot}/...) too.
        user {BrokerCredentials.ControlPlaneUserName}
        topic readwrite {Topics.DeviceRoot}/#

        # Every device (user name = certificate common name = device id): only its own topics.
        pattern read {Topics.DeviceRoot}/%u/#
        pattern write {Topics.DeviceRoot}/%u/twin/reported
        pattern write {Topics.DeviceRoot}/%u/status
        pattern write {Topics.DeviceRoot}/%u/telemetry/#

        """;

    private static string Config(string directory, BrokerOptions settings) => string.Create(CultureInfo.InvariantCulture, $"""
        # Written by the EdgePlatform control plane; regenerated on every start.
        # Run: mosquitto -c {Path.Combine(directory, ConfigFileName)}
        per_listener_settings false
        allow_anonymous false
        acl_file {Path.Combine(directory, "acl")}

        # What devices published while the control plane was away waits in its session, across
        # broker restarts too: the queue limits (Broker:MaxQueuedMessages, Broker:MaxQueuedBytes)
        # are sized for the control plane's session to hold a fleet's telemetry over a restart.
        persistence true
        persistence_location {Path.Combine(directory, "data")}/
        max_queued_messages {settings.MaxQueuedMessages}
        max_queued_bytes {settings.MaxQueuedBytes}

        # Control-plane replicas share the devices' messages (MQTT 5 shared subscriptions): the
        # broker hands each to one replica in turn, slow or not. At most this many are in flight
        # to a client at once (fewer where an MQTT 5 client announces a smaller receive maximum);
        # the rest wait in its session within the queue limits above, so a slow replica's share
        # is held there, not dropped.
        max_inflight_messages 20

        # Broker:MaxPacketBytes: a larger packet gets its client disconnected.
        max_packet_size {settings.MaxPacketBytes}

        listener {settings.Port} {settings.Host}
        protocol mqtt
        cafile {Path.Combine(directory, "ca.crt")}
        certfile {Path.Combine(directory, "server.crt")}
        keyfile {Path.Combine(directory, "server.key")}
        crlfile {Path.Combine(directory, "crl.pem")}
        tls_version tlsv1.2
        require_certificate true
        use_identity_as_username true

        """);

    private static void WriteFile(string directory, string name, string content, bool secret)
    {
        var path = Path.Combine(directory, name);
        var temporary = path + ".tmp";
        File.Delete(temporary);
        var fileOptions = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = secret ? UnixFileMode.UserRead | UnixFileMode.UserWrite : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
        };
        using (var stream = new FileStream(temporary, fileOptions))
        {
            stream.Write(Encoding.UTF8.GetBytes(content));
        }

        File.Move(temporary, path, overwrite: true);
    }

    [LoggerMessage(EventId = 620, Level = LogLevel.Information, Message = "mosquitto configuration written to {Directory}")]
    private partial void LogWritten(string directory);
}

/// <summary>
/// Revocation with an external broker: the control plane cannot close a session there, so it
/// rewrites the revocation list the broker checks at connect and says that the broker must
/// reload its listener to drop a session that is open now.
/// </summary>
public sealed partial class ExternalBrokerSessions(MosquittoConfigWriter writer, ILogger<ExternalBrokerSessions> logger) : IDeviceSessions
{
    public async Task CloseAsync(string deviceId, CancellationToken cancellationToken)
    {
        await writer.WriteRevocationListAsync(cancellationToken).ConfigureAwait(false);
        LogRevocationWritten(deviceId);
    }

    [LoggerMessage(EventId = 621, Level = LogLevel.Warning, Message = "Device {DeviceId} added to the broker's revocation list; restart the external broker to close a session it has open now")]
    private partial void LogRevocationWritten(string deviceId);
}
