using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.Security.Pki;
using EdgePlatform.Security.Tokens;
using EdgePlatform.Security.Tuf;

namespace EdgePlatform.ControlPlane.Host.Hosting;

/// <summary>
/// Settles what must be known before the host is built: the data directory, the ports (a
/// requested port of 0 is resolved to a free one so it can be advertised to devices), and the key
/// material in the key directory (<see cref="ServerOptions.KeyDirectory"/>, the data directory by
/// default), created on first start with mode 0600 or, for replicas sharing a read-only
/// directory, only read.
/// </summary>
public sealed class ServerBootstrap
{
    public const string EnrollmentKeyFileName = "enrollment.key";
    public const string InitialAdminTokenFileName = "initial-admin.token";
    public const string DeviceCaFileName = "device-ca.pem";
    public const string DeviceCaCertificateFileName = "device-ca.crt";
    public const string TokenKeyFileName = "token-signing.pem";
    public const string TokenCertificateFileName = "token-signing.crt";
    public const string ApiCertificateFileName = "api-tls.pem";

    /// <summary>The trust metadata's online signing keys, under the key directory.</summary>
    public const string TrustKeysDirectoryName = "keys";

    /// <summary>An online signing key of the trust metadata, relative to the key directory.</summary>
    public static string TrustKeyFileName(string role) => Path.Combine(TrustKeysDirectoryName, role + ".pem");

    /// <summary>The key that seals dataset connection strings, under the key directory.</summary>
    public const string ConnectionKeyFileName = "datasets/connections.key";

    private ServerBootstrap(ServerOptions options, int httpPort, int mqttPort, string enrollmentKey)
    {
        Options = options;
        HttpPort = httpPort;
        MqttPort = mqttPort;
        EnrollmentKey = enrollmentKey;
        var now = DateTimeOffset.UtcNow;
        DeviceCa = CertificateAuthority.FromPem(LoadOrCreateSecret(
            options.KeyPath, DeviceCaFileName, () => { using var ca = CertificateAuthority.Create("EdgePlatform device CA", now); return ca.ExportPem(); }));
        TokenSigner = TokenSigner.FromPem(LoadOrCreateSecret(
            options.KeyPath, TokenKeyFileName, () => { using var signer = TokenSigner.Create("EdgePlatform token signing", now); return signer.ExportPem(); }));

        // Public halves beside them, for brokers and registries to be configured with.
        File.WriteAllText(Path.Combine(options.DataDirectory, DeviceCaCertificateFileName), DeviceCa.CertificatePem);
        File.WriteAllText(Path.Combine(options.DataDirectory, TokenCertificateFileName), TokenSigner.CertificatePem);

        UsesTls = UsesTlsFor(options);
        if (UsesTls)
        {
            (ApiCertificate, ApiCertificateChain, ApiPinFingerprint) = options.CertificateFile is { } file
                ? LoadApiCertificate(file, options.CertificateKeyFile)
                : IssueApiCertificate(options, DeviceCa, now);
        }
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

    /// <summary>Where the key material is (<see cref="ServerOptions.KeyDirectory"/>, the data directory by default).</summary>
    public string KeyDirectory => Options.KeyPath;

    /// <summary>Whether missing key material may be created in <see cref="KeyDirectory"/>.</summary>
    public bool CreatesKeys => Options.CreatesKeys;

    /// <summary>Whether the API is served over HTTPS (<see cref="ServerOptions.Tls"/>).</summary>
    public bool UsesTls { get; }

    /// <summary>The API's TLS certificate with its private key; null without TLS.</summary>
    public X509Certificate2? ApiCertificate { get; }

    /// <summary>The certificates sent after <see cref="ApiCertificate"/>, so clients can check the chain to a pinned CA.</summary>
    public X509Certificate2Collection ApiCertificateChain { get; } = [];

    /// <summary>
    /// The SHA-256 fingerprint of the API's certificate, which clients pin
    /// (<c>Agent:ControlPlaneFingerprint</c>, <c>edgectl --ca-fingerprint</c>). Null without TLS.
    /// </summary>
    public string? ApiPinFingerprint { get; }

    /// <summary>The URL the API is bound at.</summary>
    public string HttpUrl => $"{(UsesTls ? "https" : "http")}://{UrlHost(Options.BindAddress)}:{HttpPort}";

    /// <summary>The URL clients reach the API at: <see cref="ServerOptions.PublicBaseUrl"/>, or the bound one.</summary>
    public string PublicUrl => Options.PublicBaseUrl is { Length: > 0 } configured ? configured.TrimEnd('/') : HttpUrl;

    public string EnrollmentKeyFile => Path.Combine(KeyDirectory, EnrollmentKeyFileName);

    public static ServerBootstrap Prepare(ServerOptions options)
    {
        options.DataDirectory = Path.GetFullPath(options.DataDirectory);
        Directory.CreateDirectory(options.DataDirectory);
        File.SetUnixFileMode(options.DataDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        // A stale endpoints file from an earlier run must not be mistaken for this one.
        File.Delete(Path.Combine(options.DataDirectory, ServerEndpoints.FileName));
        if (options.KeyDirectory is { Length: > 0 } keyDirectory)
        {
            options.KeyDirectory = Path.GetFullPath(keyDirectory);
            if (options.CreatesKeys)
            {
                Directory.CreateDirectory(options.KeyDirectory);
                File.SetUnixFileMode(options.KeyDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }

        if (!options.CreatesKeys)
        {
            RequireKeyMaterial(options);
        }

        var address = IPAddress.Parse(options.BindAddress);
        var httpPort = options.HttpPort == 0 ? FreePort(address) : options.HttpPort;
        var mqttPort = options.MqttPort == 0 ? FreePort(address, except: httpPort) : options.MqttPort;
        return new ServerBootstrap(options, httpPort, mqttPort, LoadOrCreateSecret(
            options.KeyPath, EnrollmentKeyFileName, () => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32))).Trim());
    }

    /// <summary>
    /// The files of the key directory that a server that may not create them needs, relative to
    /// it: the API certificate only where the server issues its own.
    /// </summary>
    public static IReadOnlyList<string> RequiredKeyFiles(ServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        List<string> files =
        [
            DeviceCaFileName,
            TokenKeyFileName,
            EnrollmentKeyFileName,
            TrustKeyFileName(TufRoles.Targets),
            TrustKeyFileName(TufRoles.Timestamp),
            ConnectionKeyFileName,
        ];
        if (options.CertificateFile is null && UsesTlsFor(options))
        {
            files.Add(ApiCertificateFileName);
        }

        return files;
    }

    /// <summary>
    /// Stops a server that may not create key material before it does anything else, when the key
    /// directory lacks any of it: replicas that went on with keys of their own would issue
    /// certificates and tokens the others refuse.
    /// </summary>
    private static void RequireKeyMaterial(ServerOptions options)
    {
        var missing = RequiredKeyFiles(options).Where(file => !File.Exists(Path.Combine(options.KeyPath, file))).ToList();
        if (missing.Count > 0)
        {
            throw new InvalidOperationException(
                $"The key directory '{options.KeyPath}' (Server:KeyDirectory) lacks {string.Join(", ", missing)}, and this server may not create key material "
                + "(Server:CreateKeys is false, the default when Server:KeyDirectory is set). Start one server once with Server:CreateKeys=true "
                + "over that directory, or copy these files there from the data directory of the server that created them.");
        }
    }

    /// <summary>Configuration values derived here, for the options that other parts bind.</summary>
    public IEnumerable<KeyValuePair<string, string?>> DerivedConfiguration() =>
    [
        new($"{EnrollmentOptions.Section}:{nameof(EnrollmentOptions.GroupKey)}", EnrollmentKey),
        new($"{EnrollmentOptions.Section}:{nameof(EnrollmentOptions.MqttHost)}", Options.BindAddress),
        new($"{EnrollmentOptions.Section}:{nameof(EnrollmentOptions.MqttPort)}", MqttPort.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new($"{EnrollmentOptions.Section}:{nameof(EnrollmentOptions.RegistryUrl)}", PublicUrl),
        new($"{EnrollmentOptions.Section}:{nameof(EnrollmentOptions.MetadataUrl)}", PublicUrl),
    ];

    public void WriteEndpointsFile()
    {
        var endpoints = new ServerEndpoints(
            HttpUrl, Options.BindAddress, MqttPort, EnrollmentKeyFile, Environment.ProcessId,
            UsesTls ? Path.Combine(DataDirectory, DeviceCaCertificateFileName) : null, ApiPinFingerprint);
        var path = Path.Combine(DataDirectory, ServerEndpoints.FileName);
        var temporary = path + ".tmp";
        File.WriteAllBytes(temporary, JsonSerializer.SerializeToUtf8Bytes(endpoints, ContractsJsonContext.Default.ServerEndpoints));
        File.Move(temporary, path, overwrite: true);
    }

    private static bool UsesTlsFor(ServerOptions options) => options.Tls switch
    {
        "on" => true,
        "off" => false,
        _ => !IPAddress.IsLoopback(IPAddress.Parse(options.BindAddress)),
    };

    private static string UrlHost(string address) =>
        IPAddress.TryParse(address, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address;

    /// <summary>An operator's certificate: the first PEM certificate is the server's, the rest its chain.</summary>
    private static (X509Certificate2, X509Certificate2Collection, string) LoadApiCertificate(string certificateFile, string? keyFile)
    {
        try
        {
            var certificate = X509Certificate2.CreateFromPemFile(certificateFile, keyFile);
            if (!certificate.HasPrivateKey)
            {
                throw new InvalidOperationException($"Server:CertificateFile '{certificateFile}' holds no private key; name it in Server:CertificateKeyFile");
            }

            var all = new X509Certificate2Collection();
            all.ImportFromPemFile(certificateFile);
            var chain = new X509Certificate2Collection(all.Where(c => !c.RawData.AsSpan().SequenceEqual(certificate.RawData)).ToArray());
            return (certificate, chain, ServerCertificatePin.Fingerprint(certificate));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new InvalidOperationException($"Server:CertificateFile '{certificateFile}' cannot be used: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// A certificate from the device CA naming every host clients may use, kept in
    /// <see cref="ApiCertificateFileName"/> so that its fingerprint, which clients pin, stays the
    /// same across restarts; issued anew only when missing, within 30 days of expiry, or when the
    /// hosts it must name have changed.
    /// </summary>
    private static (X509Certificate2, X509Certificate2Collection, string) IssueApiCertificate(ServerOptions options, CertificateAuthority ca, DateTimeOffset now)
    {
        var bind = IPAddress.Parse(options.BindAddress);
        IEnumerable<string> hosts = ["localhost", "127.0.0.1", "::1", .. options.HostNames];
        hosts = bind.Equals(IPAddress.Any) || bind.Equals(IPAddress.IPv6Any) ? hosts.Append(Dns.GetHostName()) : hosts.Append(options.BindAddress);
        if (options.PublicBaseUrl is { Length: > 0 } url && Uri.TryCreate(url, UriKind.Absolute, out var publicUrl))
        {
            hosts = hosts.Append(publicUrl.IdnHost.Trim('[', ']'));
        }

        var wanted = hosts.Select(Normalize).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var path = Path.Combine(options.KeyPath, ApiCertificateFileName);
        if (File.Exists(path))
        {
            var kept = X509Certificate2.CreateFromPemFile(path);
            if (kept.NotAfter.ToUniversalTime() > now.AddDays(30).UtcDateTime && wanted.IsSubsetOf(Names(kept)))
            {
                return (kept, [], ServerCertificatePin.Fingerprint(kept));
            }

            // Replicas sharing a read-only key directory serve the one certificate clients pin,
            // whatever their own host names; it is renewed where keys may be created.
            if (!options.CreatesKeys && kept.NotAfter.ToUniversalTime() > now.UtcDateTime)
            {
                return (kept, [], ServerCertificatePin.Fingerprint(kept));
            }

            kept.Dispose();
        }

        if (!options.CreatesKeys)
        {
            throw new InvalidOperationException(
                $"The API certificate '{path}' has expired, and this server may not issue another (Server:CreateKeys is false): renew it where keys may be created, or set Server:CertificateFile");
        }

        var certificate = ca.IssueServerCertificate("edgeplatform-api", wanted, now, TimeSpan.FromDays(365));
        File.Delete(path);
        var fileOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite };
        using (var writer = new StreamWriter(new FileStream(path, fileOptions)))
        using (var key = certificate.GetECDsaPrivateKey()!)
        {
            writer.Write(certificate.ExportCertificatePem() + "\n" + key.ExportPkcs8PrivateKeyPem() + "\n");
        }

        return (certificate, [], ServerCertificatePin.Fingerprint(certificate));

        static string Normalize(string host) => IPAddress.TryParse(host, out var address) ? address.ToString() : host;

        static HashSet<string> Names(X509Certificate2 certificate)
        {
            var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var extension in certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>())
            {
                names.UnionWith(extension.EnumerateDnsNames());
                names.UnionWith(extension.EnumerateIPAddresses().Select(a => a.ToString()));
            }

            return names;
        }
    }

    /// <summary>Reads a secret file, or creates it with mode 0600 on first start.</summary>
    private static string LoadOrCreateSecret(string directory, string fileName, Func<string> create)
    {
        var path = Path.Combine(directory, fileName);
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
