using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.Security;
using EdgePlatform.Security.Pki;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Devices;

/// <summary>
/// Admits devices that prove a bootstrap credential (an enrollment key, or a bootstrap certificate
/// from a trusted manufacturer CA) and issues each its device certificate from the control
/// plane's device CA. Checks the certificates devices present to the broker.
/// </summary>
public sealed partial class EnrollmentService(
    IDeviceStore store,
    IEnrollmentGroupStore groups,
    ITrustPublisher trust,
    CertificateAuthority deviceCa,
    IOptions<EnrollmentOptions> options,
    TimeProvider timeProvider,
    ILogger<EnrollmentService> logger)
{
    private X509Certificate2Collection? _bootstrapRoots;

    /// <summary>Bootstrap proofs accepted within <see cref="BootstrapProof.MaxAge"/>, by signature hash: each is accepted once.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, DateTimeOffset> _usedProofs = new(StringComparer.Ordinal);

    public async Task<EnrollmentResponse> EnrollAsync(EnrollmentRequest? request, CancellationToken cancellationToken)
    {
        if (request is null)
        {
            throw new RequestValidationException("body", "expected a JSON object with deviceId, csr and enrollmentKey or bootstrapCertificate");
        }

        if (DeviceIds.Describe(request.DeviceId) is { } idProblem)
        {
            throw new RequestValidationException("deviceId", idProblem);
        }

        if (string.IsNullOrWhiteSpace(request.Csr))
        {
            throw new RequestValidationException("csr", "is required: a PEM certificate signing request for the device's ECDSA P-256 key");
        }

        var settings = options.Value;
        await ProveBootstrapCredentialAsync(settings, request, cancellationToken).ConfigureAwait(false);

        var tags = DeviceTags.Validate(request.Tags);
        var existing = await store.GetDeviceAsync(request.DeviceId, cancellationToken).ConfigureAwait(false);
        if (existing?.Status == DeviceStatuses.Revoked)
        {
            LogEnrollmentRefused(request.DeviceId, "the device is revoked");
            throw new CredentialRejectedException($"device '{request.DeviceId}' is revoked");
        }

        X509Certificate2 certificate;
        try
        {
            certificate = deviceCa.IssueDeviceCertificate(request.Csr, request.DeviceId, timeProvider.GetUtcNow(), TimeSpan.FromDays(settings.DeviceCertificateDays));
        }
        catch (CertificateException ex)
        {
            throw new RequestValidationException("csr", ex.Message);
        }

        using (certificate)
        {
            var device = new DeviceRecord(
                request.DeviceId,
                tags,
                CertificateAuthority.Thumbprint(certificate),
                existing?.EnrolledAt ?? timeProvider.GetUtcNow(),
                existing?.Status ?? DeviceStatuses.NeverConnected,
                existing?.LastSeen,
                existing?.Desired,
                existing?.Reported,
                certificate.ExportCertificatePem(),
                existing?.Attestation);
            await store.UpsertDeviceAsync(device, cancellationToken).ConfigureAwait(false);
            LogEnrolled(request.DeviceId, existing is not null, certificate.SerialNumber);

            return new EnrollmentResponse(
                request.DeviceId,
                settings.MqttHost,
                settings.MqttPort,
                device.Certificate!,
                deviceCa.CertificatePem,
                settings.RegistryUrl,
                settings.MetadataUrl,
                trust.TrustedRoot);
        }
    }

    /// <summary>
    /// The device id of the client that presents <paramref name="certificate"/> to the broker:
    /// issued by the device CA, valid now, naming an enrolled device that is not revoked, and that
    /// device's current certificate. Null otherwise, with the reason why.
    /// </summary>
    public async Task<(string? DeviceId, string Reason)> IdentifyAsync(X509Certificate2? certificate, CancellationToken cancellationToken)
    {
        if (certificate is null)
        {
            return (null, "no client certificate");
        }

        if (!deviceCa.Issued(certificate, timeProvider.GetUtcNow(), out var chainProblem))
        {
            return (null, $"certificate not accepted: {chainProblem}");
        }

        var deviceId = CertificateAuthority.CommonName(certificate);
        if (!DeviceIds.IsValid(deviceId))
        {
            return (null, $"certificate subject '{deviceId}' is not a device id");
        }

        var device = await store.GetDeviceAsync(deviceId, cancellationToken).ConfigureAwait(false);
        return device switch
        {
            null => (null, $"device '{deviceId}' is not enrolled"),
            { Status: DeviceStatuses.Revoked } => (null, $"device '{deviceId}' is revoked"),
            _ when !string.Equals(device.CertificateThumbprint, CertificateAuthority.Thumbprint(certificate), StringComparison.Ordinal) =>
                (null, $"certificate is not the current one of device '{deviceId}' (it re-enrolled)"),
            _ => (deviceId, string.Empty),
        };
    }

    public async Task<EnrollmentGroupInfo> CreateGroupAsync(CreateEnrollmentGroupRequest? request, CancellationToken cancellationToken)
    {
        var name = request?.Name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > 100)
        {
            throw new RequestValidationException("name", "is required (1-100 characters)");
        }

        var group = new EnrollmentGroupRecord(
            Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)),
            name,
            Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)),
            timeProvider.GetUtcNow(),
            null);
        await groups.AddGroupAsync(group, cancellationToken).ConfigureAwait(false);
        LogGroupCreated(group.Id, name);
        return group.ToInfo(withKey: true);
    }

    public async Task<IReadOnlyList<EnrollmentGroupInfo>> ListGroupsAsync(CancellationToken cancellationToken) =>
        [.. (await groups.ListGroupsAsync(cancellationToken).ConfigureAwait(false)).Select(g => g.ToInfo())];

    public async Task RevokeGroupAsync(string id, CancellationToken cancellationToken)
    {
        if (!await groups.RevokeGroupAsync(id, timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false))
        {
            throw new NotFoundException($"enrollment group '{id}' does not exist");
        }

        LogGroupRevoked(id);
    }

    private async Task ProveBootstrapCredentialAsync(EnrollmentOptions settings, EnrollmentRequest request, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(request.BootstrapCertificate))
        {
            if (BootstrapCertificateProblem(settings, request) is { } problem)
            {
                LogEnrollmentRefused(request.DeviceId, problem);
                throw new CredentialRejectedException($"the bootstrap certificate is not accepted: {problem}");
            }

            return;
        }

        if (string.IsNullOrEmpty(request.EnrollmentKey))
        {
            throw new RequestValidationException("enrollmentKey", "is required (or a bootstrapCertificate with bootstrapSignature)");
        }

        if (!await KeyIsValidAsync(settings, request.DeviceId, request.EnrollmentKey, cancellationToken).ConfigureAwait(false))
        {
            LogEnrollmentRefused(request.DeviceId, "the enrollment key is not valid");
            throw new CredentialRejectedException("the enrollment key is not valid");
        }
    }

    /// <summary>
    /// A key derived for this very device id from the server's default group key or from an
    /// enrollment group that is not revoked. A group key itself enrolls nothing: whoever holds it
    /// could enroll any id.
    /// </summary>
    private async Task<bool> KeyIsValidAsync(EnrollmentOptions settings, string deviceId, string presented, CancellationToken cancellationToken)
    {
        if (EnrollmentKeys.Matches(settings.GroupKey, deviceId, presented))
        {
            return true;
        }

        foreach (var group in await groups.ListGroupsAsync(cancellationToken).ConfigureAwait(false))
        {
            if (group.RevokedAt is null && EnrollmentKeys.Matches(group.Key, deviceId, presented))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// A bootstrap certificate must chain to a configured manufacturer CA, be valid now, name
    /// this device id, and its key must have signed the CSR text (proof of possession).
    /// </summary>
    private string? BootstrapCertificateProblem(EnrollmentOptions settings, EnrollmentRequest request)
    {
        var roots = _bootstrapRoots ??= LoadBootstrapRoots(settings);
        if (roots.Count == 0)
        {
            return "this control plane trusts no bootstrap CA (Enrollment:BootstrapCaFile is not set)";
        }

        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPem(request.BootstrapCertificate);
        }
        catch (CryptographicException ex)
        {
            return $"not a PEM certificate ({ex.Message})";
        }

        using (certificate)
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(roots);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            chain.ChainPolicy.VerificationTime = timeProvider.GetUtcNow().UtcDateTime;
            if (!chain.Build(certificate))
            {
                return "it does not chain to a trusted bootstrap CA or is not valid now";
            }

            if (!string.Equals(CertificateAuthority.CommonName(certificate), request.DeviceId, StringComparison.Ordinal))
            {
                return $"it names '{CertificateAuthority.CommonName(certificate)}', not '{request.DeviceId}'";
            }

            using var key = certificate.GetECDsaPublicKey();
            byte[] signature;
            try
            {
                signature = Convert.FromBase64String(request.BootstrapSignature ?? string.Empty);
            }
            catch (FormatException)
            {
                return "bootstrapSignature is not base64";
            }

            if (request.BootstrapSignedAt is not { } signedAt)
            {
                return "bootstrapSignedAt is required: the time the proof was signed";
            }

            var now = timeProvider.GetUtcNow();
            if ((now - signedAt).Duration() > BootstrapProof.MaxAge)
            {
                return $"the proof was signed at {signedAt:O}, more than {BootstrapProof.MaxAge.TotalMinutes:0} minutes from this server's clock ({now:O}): a replayed request, or a device clock that is wrong";
            }

            if (key is null || signature.Length == 0
                || !BootstrapProof.Verify(key, request.DeviceId, signedAt, request.Csr!, signature))
            {
                return "bootstrapSignature is not the bootstrap key's signature over the device id, bootstrapSignedAt and the CSR";
            }

            foreach (var (old, at) in _usedProofs)
            {
                if (now - at > BootstrapProof.MaxAge + BootstrapProof.MaxAge)
                {
                    _usedProofs.TryRemove(old, out _);
                }
            }

            if (!_usedProofs.TryAdd(Convert.ToHexStringLower(SHA256.HashData(signature)), signedAt))
            {
                return "this proof was already used: a replayed request";
            }
        }

        return null;
    }

    private static X509Certificate2Collection LoadBootstrapRoots(EnrollmentOptions settings)
    {
        var roots = new X509Certificate2Collection();
        if (settings.BootstrapCaFile is { Length: > 0 } file)
        {
            roots.ImportFromPemFile(file);
        }

        return roots;
    }

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "Enrollment group {Id} ({Name}) created")]
    private partial void LogGroupCreated(string id, string name);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "Enrollment group {Id} revoked: keys derived from it no longer enroll devices")]
    private partial void LogGroupRevoked(string id);

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Device {DeviceId} enrolled (re-enrollment: {Again}); certificate serial {Serial}")]
    private partial void LogEnrolled(string deviceId, bool again, string serial);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Enrollment of device {DeviceId} refused: {Reason}")]
    private partial void LogEnrollmentRefused(string deviceId, string reason);
}
