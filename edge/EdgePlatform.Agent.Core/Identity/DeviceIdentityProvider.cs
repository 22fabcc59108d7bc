using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Contracts;
using EdgePlatform.Resilience;
using EdgePlatform.Security.Pki;
using EdgePlatform.Security.Tuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.Agent.Core.Identity;

/// <summary>
/// The device's identity: loaded from <c>identity.json</c> or, on first start, obtained by
/// enrolling: the agent creates its own key (<c>device-key.pem</c>, mode 0600, never sent), sends a
/// certificate signing request with its bootstrap credential (an enrollment key, or a bootstrap
/// certificate and key), and keeps the device certificate the control plane's CA issued, that CA,
/// and the trust root that every model signature must chain to.
/// </summary>
public sealed partial class DeviceIdentityProvider(
    IOptions<AgentOptions> options,
    IHttpClientFactory httpClients,
    ControlPlaneTrust controlPlaneTrust,
    TimeProvider timeProvider,
    ILogger<DeviceIdentityProvider> logger) : IRegistryLocator, IDisposable
{
    public const string IdentityFileName = "identity.json";
    public const string KeyFileName = "device-key.pem";

    private readonly SemaphoreSlim _gate = new(1, 1);
    private EnrollmentResponse? _identity;

    public string IdentityFile => Path.Combine(options.Value.DataDirectory, IdentityFileName);

    public string KeyFile => Path.Combine(options.Value.DataDirectory, KeyFileName);

    /// <summary>The device certificate with its private key, for mTLS to the broker.</summary>
    public async Task<X509Certificate2> GetClientCertificateAsync(CancellationToken cancellationToken)
    {
        var identity = await GetAsync(cancellationToken).ConfigureAwait(false);
        using var key = LoadKey();
        using var certificate = X509Certificate2.CreateFromPem(identity.Certificate);
        return certificate.CopyWithPrivateKey(key);
    }

    /// <summary>The device CA certificate: the broker's certificate must chain to it.</summary>
    public async Task<X509Certificate2> GetCaCertificateAsync(CancellationToken cancellationToken)
    {
        var identity = await GetAsync(cancellationToken).ConfigureAwait(false);
        return X509Certificate2.CreateFromPem(identity.CaCertificate);
    }

    /// <summary>The device's private key, which signs attestation evidence.</summary>
    public ECDsa LoadKey()
    {
        var key = ECDsa.Create();
        key.ImportFromPem(File.ReadAllText(KeyFile));
        return key;
    }

    public async Task<EnrollmentResponse> GetAsync(CancellationToken cancellationToken)
    {
        if (_identity is not null)
        {
            return _identity;
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _identity ??= await LoadAsync(cancellationToken).ConfigureAwait(false) ?? await EnrollAsync(cancellationToken).ConfigureAwait(false);
            return _identity;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask<Uri> GetRegistryUriAsync(CancellationToken cancellationToken)
    {
        var identity = await GetAsync(cancellationToken).ConfigureAwait(false);
        return new Uri(identity.RegistryUrl.TrimEnd('/') + "/");
    }

    public async ValueTask<Uri> GetMetadataUriAsync(CancellationToken cancellationToken)
    {
        var identity = await GetAsync(cancellationToken).ConfigureAwait(false);
        return new Uri(identity.MetadataUrl.TrimEnd('/') + "/");
    }

    /// <summary>Where the device keeps its trusted metadata (the pinned root and what followed it).</summary>
    public string TrustDirectory => Path.Combine(options.Value.DataDirectory, "trust");

    public void Dispose() => _gate.Dispose();

    private async Task<EnrollmentResponse?> LoadAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(IdentityFile))
        {
            return null;
        }

        var bytes = await File.ReadAllBytesAsync(IdentityFile, cancellationToken).ConfigureAwait(false);
        var identity = JsonSerializer.Deserialize(bytes, ContractsJsonContext.Default.EnrollmentResponse)
            ?? throw new EnrollmentException($"{IdentityFile} is empty; delete it to enroll again");
        if (string.IsNullOrEmpty(identity.Certificate) || string.IsNullOrEmpty(identity.CaCertificate) || !File.Exists(KeyFile))
        {
            throw new EnrollmentException($"{IdentityFile} holds no device certificate or {KeyFile} is missing; delete {IdentityFile} to enroll again");
        }

        var configured = options.Value.DeviceId;
        if (configured is not null && !string.Equals(configured, identity.DeviceId, StringComparison.Ordinal))
        {
            throw new EnrollmentException(
                $"this agent is enrolled as '{identity.DeviceId}' but configured as '{configured}'; use another data directory or delete {IdentityFile}");
        }

        LogLoaded(identity.DeviceId);
        return identity;
    }

    private async Task<EnrollmentResponse> EnrollAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (DeviceIds.Describe(settings.DeviceId) is { } idProblem)
        {
            throw new EnrollmentException($"Agent:DeviceId {idProblem}; the device is not enrolled yet and needs an id to enroll with");
        }

        if (!Uri.TryCreate(settings.ControlPlaneUrl, UriKind.Absolute, out var controlPlane))
        {
            throw new EnrollmentException("Agent:ControlPlaneUrl must be an absolute URL to enroll (e.g. https://cp.example:5080)");
        }

        if (ServerCertificatePin.CleartextRefusal(controlPlane) is { } cleartext)
        {
            throw new EnrollmentException($"Agent:ControlPlaneUrl {cleartext}");
        }

        var csr = CreateSigningRequest(settings.DeviceId!);
        using var client = httpClients.CreateClient(nameof(DeviceIdentityProvider));
        client.BaseAddress = controlPlane;

        // A control plane that is down or overloaded is tried again; one that refused the request is not.
        var retry = RetryPipelines.Create(
            settings.EnrollmentRetry,
            timeProvider,
            ex => ex is HttpRequestException,
            failure => LogEnrollRetry(controlPlane, failure.Exception.Message, failure.Delay.TotalMilliseconds));
        return await retry.ExecuteAsync(
            async ct =>
            {
                // Built for each try: a bootstrap proof is signed for now, and a stale one is refused.
                var request = await BootstrapRequestAsync(settings, csr, ct).ConfigureAwait(false);
                using var response = await PostAsync(client, request, ct).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    var identity = await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.EnrollmentResponse, ct).ConfigureAwait(false)
                        ?? throw new EnrollmentException("the control plane answered enrollment with an empty body");
                    PinRoot(identity);
                    await SaveAsync(identity, ct).ConfigureAwait(false);
                    LogEnrolled(identity.DeviceId, controlPlane);
                    return identity;
                }

                var detail = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
                if (response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                {
                    throw new EnrollmentException($"enrollment refused ({(int)response.StatusCode}): {ApiProblem.Describe(detail)}");
                }

                throw new HttpRequestException($"HTTP {(int)response.StatusCode}", null, response.StatusCode);
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The enrollment request; a server whose certificate is not the pinned one is an answer, not an outage.</summary>
    private async Task<HttpResponseMessage> PostAsync(HttpClient client, EnrollmentRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return await client.PostAsJsonAsync(
                "api/v1/enrollments/devices", request, ContractsJsonContext.Default.EnrollmentRequest, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex) when (ex.HttpRequestError == HttpRequestError.SecureConnectionError)
        {
            throw new EnrollmentException(
                $"the server at {client.BaseAddress} is not the control plane this agent was given, so the enrollment key was not sent: {controlPlaneTrust.DescribeRefusal()}", ex);
        }
    }

    /// <summary>
    /// A PKCS#10 request for the device key, created now (or reused when an earlier enrollment
    /// attempt already made it). The key never leaves the device.
    /// </summary>
    private string CreateSigningRequest(string deviceId)
    {
        Directory.CreateDirectory(options.Value.DataDirectory);
        if (!File.Exists(KeyFile))
        {
            using var fresh = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var fileOptions = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            };
            using var writer = new StreamWriter(new FileStream(KeyFile, fileOptions));
            writer.Write(fresh.ExportPkcs8PrivateKeyPem());
        }

        using var key = LoadKey();
        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName(deviceId);
        return new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
    }

    private async Task<EnrollmentRequest> BootstrapRequestAsync(AgentOptions settings, string csr, CancellationToken cancellationToken)
    {
        if (settings.BootstrapCertificateFile is { Length: > 0 } certificateFile)
        {
            if (settings.BootstrapKeyFile is not { Length: > 0 } keyFile || !File.Exists(certificateFile) || !File.Exists(keyFile))
            {
                throw new EnrollmentException("Agent:BootstrapCertificateFile and Agent:BootstrapKeyFile must both name existing PEM files");
            }

            var certificatePem = await File.ReadAllTextAsync(certificateFile, cancellationToken).ConfigureAwait(false);
            using var bootstrapKey = ECDsa.Create();
            bootstrapKey.ImportFromPem(await File.ReadAllTextAsync(keyFile, cancellationToken).ConfigureAwait(false));
            var signedAt = timeProvider.GetUtcNow();
            var proof = EdgePlatform.Security.BootstrapProof.Sign(bootstrapKey, settings.DeviceId!, signedAt, csr);
            return new EnrollmentRequest(settings.DeviceId!, null, settings.Tags, csr, certificatePem, proof, signedAt);
        }

        var key = settings.EnrollmentKey;
        if (string.IsNullOrEmpty(key) && settings.EnrollmentKeyFile is { } enrollmentKeyFile)
        {
            key = File.Exists(enrollmentKeyFile)
                ? (await File.ReadAllTextAsync(enrollmentKeyFile, cancellationToken).ConfigureAwait(false)).Trim()
                : throw new EnrollmentException($"enrollment key file '{enrollmentKeyFile}' does not exist");
        }

        if (string.IsNullOrEmpty(key))
        {
            throw new EnrollmentException("Agent:EnrollmentKey, Agent:EnrollmentKeyFile or Agent:BootstrapCertificateFile is required to enroll");
        }

        return new EnrollmentRequest(settings.DeviceId!, key, settings.Tags, csr);
    }

    /// <summary>Pins the root the control plane sent at enrollment, refusing one that is not validly self-signed.</summary>
    private void PinRoot(EnrollmentResponse identity)
    {
        try
        {
            TufClient.Pin(TrustDirectory, System.Text.Encoding.UTF8.GetBytes(identity.TrustedRoot ?? string.Empty));
        }
        catch (Exception ex) when (ex is TufFormatException or TufVerificationException)
        {
            throw new EnrollmentException($"the root metadata sent at enrollment cannot be pinned: {ex.Message}", ex);
        }
    }

    private async Task SaveAsync(EnrollmentResponse identity, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(options.Value.DataDirectory);
        var temporary = IdentityFile + ".tmp";

        // A leftover temporary file could carry wider permissions into the identity file.
        File.Delete(temporary);
        var fileOptions = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        var stream = new FileStream(temporary, fileOptions);
        await using (stream.ConfigureAwait(false))
        {
            await JsonSerializer.SerializeAsync(stream, identity, ContractsJsonContext.Default.EnrollmentResponse, cancellationToken).ConfigureAwait(false);
        }

        File.Move(temporary, IdentityFile, overwrite: true);
    }

    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "Device identity {DeviceId} loaded")]
    private partial void LogLoaded(string deviceId);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Enrolled as device {DeviceId} with {ControlPlane}")]
    private partial void LogEnrolled(string deviceId, Uri controlPlane);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Enrollment with {ControlPlane} failed ({Reason}); retrying in {DelayMs} ms")]
    private partial void LogEnrollRetry(Uri controlPlane, string reason, double delayMs);
}

/// <summary>The device cannot enroll or load its identity; the message says what to fix.</summary>
public sealed class EnrollmentException : Exception
{
    public EnrollmentException()
    {
    }

    public EnrollmentException(string message)
        : base(message)
    {
    }

    public EnrollmentException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
