using System.ComponentModel.DataAnnotations;

namespace EdgePlatform.ControlPlane.Host.Hosting;

/// <summary>Where the server keeps its state and where it listens.</summary>
public sealed class ServerOptions : IValidatableObject
{
    public const string Section = "Server";

    /// <summary>Holds the SQLite database, blobs, keys and the enrollment key. Default: ~/.local/share/edgeplatform/server.</summary>
    [Required]
    public string DataDirectory { get; set; } = Path.Combine(
        Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "edgeplatform", "server");

    /// <summary>
    /// Where the server's key material lives: the device CA (<c>device-ca.pem</c>), the token
    /// signing key (<c>token-signing.pem</c>), the group enrollment key (<c>enrollment.key</c>),
    /// the trust metadata's online keys (<c>keys/targets.pem</c>, <c>keys/timestamp.pem</c>, and
    /// <c>keys/root.pem</c> until it is moved offline), the dataset connection key
    /// (<c>datasets/connections.key</c>) and, where the server issues its own API certificate, that
    /// certificate with its key (<c>api-tls.pem</c>). Control-plane replicas name one shared
    /// directory here, read-only to them, so that they all sign, issue and decrypt with the same
    /// keys. Default: unset, which means the data directory.
    /// </summary>
    public string? KeyDirectory { get; set; }

    /// <summary>
    /// Whether the server creates key material missing from <see cref="KeyDirectory"/> (and
    /// reissues an API certificate there that is about to expire or lacks a host name). Without
    /// it, a key directory that lacks any of them stops the server at start, naming what is
    /// missing. Default: true when <see cref="KeyDirectory"/> is unset, false when it is set (one
    /// start with it true, or a copy of a data directory's files, fills a shared directory).
    /// </summary>
    public bool? CreateKeys { get; set; }

    /// <summary>Where the key material is read from (and written to, when it may be created).</summary>
    public string KeyPath => KeyDirectory is { Length: > 0 } keys ? keys : DataDirectory;

    /// <summary>Whether missing key material is created (<see cref="CreateKeys"/> with its default).</summary>
    public bool CreatesKeys => CreateKeys ?? KeyDirectory is not { Length: > 0 };

    /// <summary>Loopback address by default; the API is not exposed beyond the machine unless configured.</summary>
    [Required]
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>HTTP port for /api/v1 and /v2/; 0 picks a free port. Default 5080.</summary>
    [Range(0, 65535)]
    public int HttpPort { get; set; } = 5080;

    /// <summary>
    /// Where the first start writes the initial admin token (mode 0600; a file already there is
    /// replaced, never reused). The token never goes to the log. Default: unset, which means
    /// <c>initial-admin.token</c> in the data directory.
    /// </summary>
    public string? InitialAdminTokenFile { get; set; }

    /// <summary>
    /// TLS on the HTTP API: <c>auto</c> (default) serves HTTPS whenever the bind address is not
    /// loopback and plain HTTP on loopback; <c>on</c> serves HTTPS everywhere; <c>off</c> serves
    /// plain HTTP everywhere, for a TLS-terminating proxy in front (logged as a warning beyond
    /// loopback). The certificate is <see cref="CertificateFile"/>, or one the server issues at
    /// each start from its device CA.
    /// </summary>
    [RegularExpression("^(auto|on|off)$", ErrorMessage = "Server:Tls must be 'auto', 'on' or 'off'")]
    public string Tls { get; set; } = "auto";

    /// <summary>The API's TLS certificate (PEM, with its chain), when the operator provides one. Default: unset.</summary>
    public string? CertificateFile { get; set; }

    /// <summary>The private key of <see cref="CertificateFile"/> (PEM); unset when the certificate file holds it.</summary>
    public string? CertificateKeyFile { get; set; }

    /// <summary>
    /// Host names and addresses an issued API certificate names besides the bind address,
    /// <c>localhost</c> and the host of <see cref="PublicBaseUrl"/>.
    /// </summary>
    public List<string> HostNames { get; set; } = [];

    /// <summary>
    /// The URL devices and clients reach the API at when it differs from the bind address (a
    /// proxy, a load balancer, a DNS name), e.g. https://edge.example.com. The registry's token
    /// realm and the enrollment answer name it. Default: unset, which means the bound URL.
    /// </summary>
    public string? PublicBaseUrl { get; set; }

    /// <summary>TLS port of the embedded MQTT broker; 0 picks a free port. Default 8883.</summary>
    [Range(0, 65535)]
    public int MqttPort { get; set; } = 8883;

    /// <summary>
    /// Largest request body the API accepts, in bytes: JSON requests and signed metadata are a few
    /// kilobytes. A larger body is refused with 413 problem details while it is read. Endpoints
    /// that take more set their own: dataset uploads (<see cref="MaxDatasetUploadBytes"/>) and
    /// registry pushes (<c>Registry:MaxBlobBytes</c>, <c>Registry:MaxManifestBytes</c>). Default 1 MiB.
    /// </summary>
    [Range(1024, long.MaxValue)]
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Largest dataset a <c>PUT /api/v1/datasets/{name}</c> may upload, in bytes; it is held in memory while it is registered. Default 32 MiB.</summary>
    [Range(1024, int.MaxValue)]
    public long MaxDatasetUploadBytes { get; set; } = 32 * 1024 * 1024;

    /// <summary>
    /// Largest <c>POST /api/v1/models/{name}/import</c> body, in bytes: the ONNX graph in base64 (a
    /// third larger than the file), the card and the sample, held in memory while they are checked. Default 64 MiB.
    /// </summary>
    [Range(1024, int.MaxValue)]
    public long MaxModelImportBytes { get; set; } = 64 * 1024 * 1024;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!System.Net.IPAddress.TryParse(BindAddress, out _))
        {
            yield return new ValidationResult($"Server:BindAddress '{BindAddress}' is not an IP address", [nameof(BindAddress)]);
        }

        if (PublicBaseUrl is not null
            && !(Uri.TryCreate(PublicBaseUrl, UriKind.Absolute, out var url) && url.Scheme is "http" or "https" && url.AbsolutePath == "/"))
        {
            yield return new ValidationResult($"Server:PublicBaseUrl must be an absolute http:// or https:// URL without a path, not '{PublicBaseUrl}'", [nameof(PublicBaseUrl)]);
        }

        if (CertificateKeyFile is not null && CertificateFile is null)
        {
            yield return new ValidationResult("Server:CertificateKeyFile needs Server:CertificateFile", [nameof(CertificateKeyFile)]);
        }
    }
}
