namespace EdgePlatform.Contracts;

/// <summary>Asks <c>POST /api/v1/attestation/nonce</c> for a fresh single-use nonce.</summary>
public sealed record AttestationNonceRequest(string? DeviceId);

public sealed record AttestationNonce(string Nonce, DateTimeOffset ExpiresAt);

/// <summary>A SHA-256 digest of one thing the agent runs on: its build, its configuration, an installed model.</summary>
public sealed record Measurement(string Kind, string Name, string Digest);

/// <summary>Well-known <see cref="Measurement.Kind"/> values.</summary>
public static class MeasurementKinds
{
    /// <summary>The agent's binaries (every file of its build, hashed in a fixed order).</summary>
    public const string AgentBuild = "agent-build";

    /// <summary>The agent's effective configuration, secrets excluded.</summary>
    public const string Configuration = "configuration";

    /// <summary>An installed model file; the name is the model, the digest its content digest.</summary>
    public const string Model = "model";
}

public sealed record PlatformFacts(string Os, string Architecture, string Runtime, string Host, bool TpmPresent);

/// <summary>
/// What the agent claims about itself, bound to a nonce. It is signed as the exact UTF-8 JSON
/// bytes sent in <see cref="AttestationRequest.Evidence"/>, so no re-serialization can change
/// what was signed.
/// </summary>
public sealed record AttestationEvidence(
    string DeviceId,
    string Nonce,
    string Channel,
    string AgentVersion,
    IReadOnlyList<Measurement> Measurements,
    PlatformFacts Platform,
    DateTimeOffset CreatedAt);

/// <summary>
/// <c>POST /api/v1/attestation</c>: base64 evidence bytes and a signature over them in
/// <see cref="Format"/> (<c>ecdsa-p256-sha256</c>: the device key's signature; a TPM quote format
/// carries the quote and its signature in the same two fields).
/// </summary>
public sealed record AttestationRequest(string? Format, string? Evidence, string? Signature);

/// <summary>A short-lived attestation token and when it expires; re-attest before then.</summary>
public sealed record AttestationResult(string Token, DateTimeOffset ExpiresAt);

/// <summary>A device's last attestation as the verifier judged it.</summary>
public sealed record AttestationStatus(
    string State,
    string? Reason,
    DateTimeOffset At,
    DateTimeOffset? ExpiresAt,
    IReadOnlyList<Measurement>? Measurements);

/// <summary>
/// Attestation states. The verifier records <see cref="Verified"/> or <see cref="Failed"/>; a
/// device reports its own view in health telemetry, where <see cref="Pending"/> (no answer yet
/// since start or since what it measures changed) and <see cref="Expired"/> (its token lapsed
/// without renewal, typically while offline) can appear too.
/// </summary>
public static class AttestationStates
{
    public const string Verified = "verified";
    public const string Failed = "failed";
    public const string Pending = "pending";
    public const string Expired = "expired";
}

/// <summary>The distribution registry's token response (<c>token</c> and its alias <c>access_token</c>).</summary>
public sealed record RegistryTokenResponse(
    [property: System.Text.Json.Serialization.JsonPropertyName("token")] string Token,
    [property: System.Text.Json.Serialization.JsonPropertyName("access_token")] string AccessToken,
    [property: System.Text.Json.Serialization.JsonPropertyName("expires_in")] int ExpiresIn,
    [property: System.Text.Json.Serialization.JsonPropertyName("issued_at")] DateTimeOffset IssuedAt);
