using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.Security.Pki;
using EdgePlatform.Security.Tokens;

namespace EdgePlatform.ControlPlane.Host.Hosting;

/// <summary>
/// Settles what must be known before the host is built: the data directory, the ports (a
/// requested port of 0 is resolved to a free one so it can be advertised to devices), and the
/// group enrollment key, created on first start with mode 0600.
/// </summary>
public sealed class ServerBootstrap
{
    public const string EnrollmentKeyFileName = "enrollment.key";
    public const string InitialAdminTokenFileName = "initial-admin.token";
    public const string DeviceCaFileName = "device-ca.pem";
    public const string DeviceCaCertificateFileName = "device-ca.crt";
    public const string TokenKeyFileName = "token-signing.pem";
    public const string TokenCertificateFileName = "token-signing.crt";

    private ServerBootstrap(ServerOptions options, int httpPort, int mqttPort, string enrollmentKey)
    {
        Options = options;
        HttpPort = httpPort;
        MqttPort = mqttPort;
        EnrollmentKey = enrollmentKey;
        var now = DateTimeOffset.UtcNow;
        DeviceCa = CertificateAuthority.FromPem(LoadOrCreateSecret(
            options.DataDirectory, DeviceCaFileName, () => { using var ca = CertificateAuthority.Create("EdgePlatform device CA", now); return ca.ExportPem(); }));
        TokenSigner = TokenSigner.FromPem(LoadOrCreateSecret(
            options.DataDirectory, TokenKeyFileName, () => { using var signer = TokenSigner.Create("EdgePlatform token signing", now); return signer.ExportPem(); }));

        // Public halves beside them, for brokers and registries to be configured with.
        File.WriteAllText(Path.Combine(options.DataDirectory, DeviceCaCertificateFileName), DeviceCa.CertificatePem);
        File.WriteAllText(Path.Combine(options.DataDirectory, TokenCertificateFileName), TokenSigner.CertificatePem);
    }

    /// <summary>The device CA: issues device certificates, the broker's and the control plane's own.</summary>
    public CertificateAuthority DeviceCa { get; }

    /// <summary>Signs attestation and registry tokens.</summary>
    public TokenSigner TokenSigner { get; }

    public ServerOptions Options { get; }

    public int HttpPort { get; }

    public int MqttPort { get; }

    public string EnrollmentKey { get; }

    public string DataDirectory => Options.DataDirectory;

    public string HttpUrl => $"http://{Options.BindAddress}:{HttpPort}";

    public string EnrollmentKeyFile => Path.Combine(DataDirectory, EnrollmentKeyFileName);

    public static ServerBootstrap Prepare(ServerOptions options)
    {
        options.DataDirectory = Path.GetFullPath(options.DataDirectory);
        Directory.CreateDirectory(options.DataDirectory);
        File.SetUnixFileMode(options.DataDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        // A stale endpoints file from an earlier run must not be mistaken for this one.
        File.Delete(Path.Combine(options.DataDirectory, ServerEndpoints.FileName));

        var address = IPAddress.Parse(options.BindAddress);
        var httpPort = options.HttpPort == 0 ? FreePort(address) : options.HttpPort;
        var mqttPort = options.MqttPort == 0 ? FreePort(address, except: httpPort) : options.MqttPort;
        return new ServerBootstrap(options, httpPort, mqttPort, LoadOrCreateEnrollmentKey(options.DataDirectory));
    }

    /// <summary>Configuration values derived here, for the options that other parts bind.</summary>
    public IEnumerable<KeyValuePair<string, string?>> DerivedConfiguration() =>
    [
        new($"{EnrollmentOptions.Section}:{nameof(EnrollmentOptions.GroupKey)}", EnrollmentKey),
        new($"{EnrollmentOptions.Section}:{nameof(EnrollmentOptions.MqttHost)}", Options.BindAddress),
        new($"{EnrollmentOptions.Section}:{nameof(EnrollmentOptions.MqttPort)}", MqttPort.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new($"{EnrollmentOptions.Section}:{nameof(EnrollmentOptions.RegistryUrl)}", HttpUrl),
        new($"{EnrollmentOptions.Section}:{nameof(EnrollmentOptions.MetadataUrl)}", HttpUrl),
    ];

    public void WriteEndpointsFile()
    {
        var endpoints = new ServerEndpoints(HttpUrl, Options.BindAddress, MqttPort, EnrollmentKeyFile, Environment.ProcessId);
        var path = Path.Combine(DataDirectory, ServerEndpoints.FileName);
        var temporary = path + ".tmp";
        File.WriteAllBytes(temporary, JsonSerializer.SerializeToUtf8Bytes(endpoints, ContractsJsonContext.Default.ServerEndpoints));
        File.Move(temporary, path, overwrite: true);
    }

    private static string LoadOrCreateEnrollmentKey(string dataDirectory) =>
        LoadOrCreateSecret(dataDirectory, EnrollmentKeyFileName, () => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32))).Trim();

    /// <summary>Reads a secret file, or creates it with mode 0600 on first start.</summary>
    private static string LoadOrCreateSecret(string dataDirectory, string fileName, Func<string> create)
    {
        var path = Path.Combine(dataDirectory, fileName);
        if (File.Exists(path))
        {
            return File.ReadAllText(path);
        }

        var key = create();
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        using var writer = new StreamWriter(new FileStream(path, options));
        writer.Write(key);
        return key;
    }

    private static int FreePort(IPAddress address, int except = -1)
    {
        while (true)
        {
            using var listener = new TcpListener(address, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            if (port != except)
            {
                return port;
            }
        }
    }
}
