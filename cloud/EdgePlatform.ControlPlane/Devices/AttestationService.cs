using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.Security.Attestation;
using EdgePlatform.Security.Tokens;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Devices;

/// <summary>
/// The attestation verifier. A device asks for a nonce, returns signed evidence bound to it,
/// and gets a short-lived attestation token when the evidence holds: the nonce was issued to it,
/// is unused and unexpired; the signature is its own (in a format a registered
/// <see cref="IEvidenceVerifier"/> knows); its agent build is allowed for its channel; every model
/// it has installed is one this control plane published.
/// </summary>
public sealed partial class AttestationService(
    IDeviceStore devices,
    IModelStore models,
    IEnumerable<IEvidenceVerifier> verifiers,
    TokenSigner tokens,
    IOptions<AttestationOptions> options,
    TimeProvider timeProvider,
    ILogger<AttestationService> logger)
{
    public const string Issuer = "edgeplatform";
    public const string TokenAudience = "edgeplatform-attestation";

    private readonly ConcurrentDictionary<string, (string DeviceId, DateTimeOffset ExpiresAt)> _nonces = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Queue<string>> _noncesByDevice = new(StringComparer.Ordinal);
    private readonly Lock _issuing = new();
    private readonly Lazy<Dictionary<string, HashSet<string>>> _policy = new(() => BuildPolicy(options.Value));

    /// <summary>
    /// Issues a nonce for a device. Anyone may ask, so the answer looks the same for an id that is
    /// not enrolled (its nonce is simply never stored, and evidence bound to it fails the nonce
    /// check), and each device holds at most <see cref="AttestationOptions.MaxNoncesPerDevice"/>
    /// outstanding nonces, its oldest given up first: a flood can spend the slots of the ids it
    /// names, never the shared ones every other device needs.
    /// </summary>
    public async Task<AttestationNonce> IssueNonceAsync(AttestationNonceRequest? request, CancellationToken cancellationToken)
    {
        if (DeviceIds.Describe(request?.DeviceId) is { } problem)
        {
            throw new RequestValidationException("deviceId", problem);
        }

        var device = await devices.GetDeviceAsync(request!.DeviceId!, cancellationToken).ConfigureAwait(false);
        var now = timeProvider.GetUtcNow();
        var nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var expiresAt = now.AddSeconds(options.Value.NonceSeconds);
        if (device is null || device.Status == DeviceStatuses.Revoked)
        {
            LogNonceForUnknownDevice(request.DeviceId!);
            return new AttestationNonce(nonce, expiresAt);
        }

        lock (_issuing)
        {
            var mine = _noncesByDevice.GetOrAdd(device.Id, _ => new Queue<string>());
            while (mine.Count > 0 && (!_nonces.TryGetValue(mine.Peek(), out var held) || held.ExpiresAt <= now || mine.Count >= options.Value.MaxNoncesPerDevice))
            {
                _nonces.TryRemove(mine.Dequeue(), out _);
            }

            if (_nonces.Count >= options.Value.MaxOutstandingNonces)
            {
                foreach (var (key, value) in _nonces)
                {
                    if (value.ExpiresAt <= now)
                    {
                        _nonces.TryRemove(key, out _);
                    }
                }

                if (_nonces.Count >= options.Value.MaxOutstandingNonces)
                {
                    throw new ConflictException("too many attestations are in progress; retry shortly");
                }
            }

            _nonces[nonce] = (device.Id, expiresAt);
            mine.Enqueue(nonce);
        }

        return new AttestationNonce(nonce, expiresAt);
    }

    /// <summary>Verifies evidence; returns a token, or throws <see cref="AttestationFailedException"/> saying which check failed.</summary>
    public async Task<AttestationResult> AttestAsync(AttestationRequest? request, CancellationToken cancellationToken)
    {
        var (evidenceBytes, signature) = DecodeRequest(request);
        AttestationEvidence evidence;
        try
        {
            evidence = JsonSerializer.Deserialize(evidenceBytes, ContractsJsonContext.Default.AttestationEvidence)
                ?? throw new RequestValidationException("evidence", "is empty");
        }
        catch (JsonException ex)
        {
            throw new RequestValidationException("evidence", $"is not attestation evidence JSON: {ex.Message}");
        }

        if (DeviceIds.Describe(evidence.DeviceId) is { } idProblem)
        {
            throw new RequestValidationException("evidence.deviceId", idProblem);
        }

        var device = await devices.GetDeviceAsync(evidence.DeviceId, cancellationToken).ConfigureAwait(false);
        if (device is null || device.Status == DeviceStatuses.Revoked || device.Certificate is null)
        {
            throw Refuse(evidence.DeviceId, $"device '{evidence.DeviceId}' is not enrolled with a certificate or is revoked");
        }

        // Failures up to here can be caused by anyone (a replayed or forged request), so they are
        // refused without touching the device's recorded state; what follows is the device's own word.
        var now = timeProvider.GetUtcNow();
        CheckNonce(evidence, now);
        CheckSignature(request!.Format!, evidenceBytes, signature, device);

        var policyProblem = CheckMeasurements(evidence) ?? await CheckModelsAsync(evidence, cancellationToken).ConfigureAwait(false);
        if (policyProblem is not null)
        {
            await devices.SaveAttestationAsync(
                device.Id, new AttestationStatus(AttestationStates.Failed, policyProblem, now, null, evidence.Measurements), cancellationToken).ConfigureAwait(false);
            throw Refuse(device.Id, policyProblem);
        }

        var expiresAt = now.AddMinutes(options.Value.TokenMinutes);
        var token = tokens.Issue(new TokenClaims(
            Issuer, device.Id, TokenAudience, now.ToUnixTimeSeconds(), now.ToUnixTimeSeconds(), expiresAt.ToUnixTimeSeconds(),
            Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12))));
        await devices.SaveAttestationAsync(
            device.Id, new AttestationStatus(AttestationStates.Verified, null, now, expiresAt, evidence.Measurements), cancellationToken).ConfigureAwait(false);
        LogAttested(device.Id, expiresAt);
        return new AttestationResult(token, expiresAt);
    }

    /// <summary>
    /// The device an attestation token speaks for, when the token is valid and the device is
    /// still enrolled, not revoked, and has not failed an attestation since; otherwise null with
    /// the reason.
    /// </summary>
    public async Task<(string? DeviceId, string Reason)> ValidateTokenAsync(string? token, CancellationToken cancellationToken)
    {
        var claims = tokens.Validate(token, TokenAudience, timeProvider.GetUtcNow(), out var reason);
        if (claims is null)
        {
            return (null, $"attestation token refused: {reason}");
        }

        return await StandingAsync(claims.Subject, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Whether what a device was given still holds now: it is enrolled, not revoked and has not
    /// failed attestation since. Checked on every use of its tokens, so a revocation takes effect
    /// at once rather than when the token expires.
    /// </summary>
    public async Task<(string? DeviceId, string Reason)> StandingAsync(string deviceId, CancellationToken cancellationToken)
    {
        var device = await devices.GetDeviceAsync(deviceId, cancellationToken).ConfigureAwait(false);
        return device switch
        {
            null or { Status: DeviceStatuses.Revoked } => (null, $"device '{deviceId}' is not enrolled or is revoked"),
            { Attestation.State: AttestationStates.Failed } => (null, $"device '{deviceId}' failed attestation: {device.Attestation.Reason}"),
            _ => (device.Id, string.Empty),
        };
    }

    private static (byte[] Evidence, byte[] Signature) DecodeRequest(AttestationRequest? request)
    {
        if (request is null)
        {
            throw new RequestValidationException("body", "expected a JSON object with format, evidence and signature");
        }

        if (string.IsNullOrEmpty(request.Format))
        {
            throw new RequestValidationException("format", "is required");
        }

        try
        {
            var evidence = Convert.FromBase64String(request.Evidence ?? string.Empty);
            var signature = Convert.FromBase64String(request.Signature ?? string.Empty);
            if (evidence.Length == 0 || signature.Length == 0)
            {
                throw new RequestValidationException("evidence", "evidence and signature are required (base64)");
            }

            return (evidence, signature);
        }
        catch (FormatException)
        {
            throw new RequestValidationException("evidence", "evidence and signature must be base64");
        }
    }

    private void CheckNonce(AttestationEvidence evidence, DateTimeOffset now)
    {
        // Removing first makes every nonce single-use, whatever the outcome of this attempt.
        if (!_nonces.TryRemove(evidence.Nonce ?? string.Empty, out var issued))
        {
            throw Refuse(evidence.DeviceId, "nonce check failed: the nonce is unknown or was already used (replay)");
        }

        if (!string.Equals(issued.DeviceId, evidence.DeviceId, StringComparison.Ordinal))
        {
            throw Refuse(evidence.DeviceId, "nonce check failed: the nonce was issued to another device");
        }

        if (issued.ExpiresAt <= now)
        {
            throw Refuse(evidence.DeviceId, $"nonce check failed: the nonce expired at {issued.ExpiresAt:O}");
        }
    }

    private void CheckSignature(string format, byte[] evidence, byte[] signature, DeviceRecord device)
    {
        var verifier = verifiers.FirstOrDefault(v => string.Equals(v.Format, format, StringComparison.Ordinal))
            ?? throw Refuse(device.Id, $"signature check failed: evidence format '{format}' is not supported (supported: {string.Join(", ", verifiers.Select(v => v.Format))})");
        using var certificate = X509Certificate2.CreateFromPem(device.Certificate);
        if (!verifier.Verify(evidence, signature, certificate, out var reason))
        {
            throw Refuse(device.Id, $"signature check failed: {reason}");
        }
    }

    private string? CheckMeasurements(AttestationEvidence evidence)
    {
        var builds = evidence.Measurements?.Where(m => m.Kind == MeasurementKinds.AgentBuild).ToList() ?? [];
        if (builds.Count != 1)
        {
            return "measurement check failed: the evidence must carry exactly one agent-build measurement";
        }

        var policy = _policy.Value;
        var channel = evidence.Channel ?? string.Empty;
        var allowed = (policy.TryGetValue(channel, out var forChannel) && forChannel.Contains(builds[0].Digest))
            || (policy.TryGetValue(AttestationOptions.AnyChannel, out var any) && any.Contains(builds[0].Digest));
        return allowed
            ? null
            : $"measurement check failed: agent build {builds[0].Digest} is not allowed on channel '{channel}'";
    }

    private async Task<string?> CheckModelsAsync(AttestationEvidence evidence, CancellationToken cancellationToken)
    {
        var installed = evidence.Measurements.Where(m => m.Kind == MeasurementKinds.Model).ToList();
        if (installed.Count == 0)
        {
            return null;
        }

        var published = (await models.ListModelsAsync(cancellationToken).ConfigureAwait(false)).Select(m => m.OnnxDigest).ToHashSet(StringComparer.Ordinal);
        var unknown = installed.FirstOrDefault(m => !published.Contains(m.Digest));
        return unknown is null ? null : $"measurement check failed: installed model '{unknown.Name}' ({unknown.Digest}) is not one this control plane published";
    }

    private static Dictionary<string, HashSet<string>> BuildPolicy(AttestationOptions settings)
    {
        var policy = settings.AllowedAgentBuilds.ToDictionary(
            p => p.Key, p => p.Value.ToHashSet(StringComparer.Ordinal), StringComparer.Ordinal);
        if (settings.TrustedAgentDirectory is { Length: > 0 } directory)
        {
            if (!policy.TryGetValue(AttestationOptions.AnyChannel, out var any))
            {
                policy[AttestationOptions.AnyChannel] = any = new HashSet<string>(StringComparer.Ordinal);
            }

            any.Add(AgentMeasurements.MeasureBuild(directory));
        }

        if (settings.AllowedAgentBuildsDirectory is { Length: > 0 } releases)
        {
            foreach (var release in AgentReleaseBuilds.ReadDirectory(releases))
            {
                foreach (var channel in release.Channels is { Count: > 0 } channels ? channels : [AttestationOptions.AnyChannel])
                {
                    if (!policy.TryGetValue(channel, out var allowed))
                    {
                        policy[channel] = allowed = new HashSet<string>(StringComparer.Ordinal);
                    }

                    allowed.UnionWith(release.Builds!.Select(b => b.AgentBuild!));
                }
            }
        }

        return policy;
    }

    private AttestationFailedException Refuse(string deviceId, string reason)
    {
        LogRefused(deviceId, reason);
        return new AttestationFailedException(reason);
    }

    [LoggerMessage(EventId = 120, Level = LogLevel.Information, Message = "Device {DeviceId} attested; token valid until {ExpiresAt:O}")]
    private partial void LogAttested(string deviceId, DateTimeOffset expiresAt);

    [LoggerMessage(EventId = 121, Level = LogLevel.Warning, Message = "Attestation of device {DeviceId} refused: {Reason}")]
    private partial void LogRefused(string deviceId, string reason);

    [LoggerMessage(EventId = 126, Level = LogLevel.Information, Message = "Nonce asked for device {DeviceId}, which is not enrolled or is revoked; answered with one that is never stored")]
    private partial void LogNonceForUnknownDevice(string deviceId);
}
