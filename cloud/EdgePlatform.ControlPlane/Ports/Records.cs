using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Ports;

/// <summary>
/// A device as stored. <see cref="CertificateThumbprint"/> names its current certificate (SHA-256
/// of the DER bytes): a certificate issued before a re-enrollment no longer connects.
/// </summary>
public sealed record DeviceRecord(
    string Id,
    IReadOnlyDictionary<string, string> Tags,
    string CertificateThumbprint,
    DateTimeOffset EnrolledAt,
    string Status,
    DateTimeOffset? LastSeen,
    DesiredState? Desired,
    ReportedState? Reported,
    string? Certificate = null,
    AttestationStatus? Attestation = null)
{
    /// <summary>
    /// Why the device may not receive a new model version (revoked, or its last attestation
    /// failed), or null when it may. Deployments and rollouts both go by this.
    /// </summary>
    public string? DeploymentRefusal => this switch
    {
        { Status: DeviceStatuses.Revoked } => "revoked",
        { Attestation.State: AttestationStates.Failed } => $"attestation failed: {Attestation.Reason}",
        _ => null,
    };
}

/// <summary>A published model version.</summary>
public sealed record ModelRecord(
    string Repository,
    string Name,
    string Version,
    string ManifestDigest,
    long ManifestSize,
    string OnnxDigest,
    long OnnxSize,
    string Signature,
    IReadOnlyDictionary<string, double> Metrics,
    DateTimeOffset CreatedAt)
{
    public ModelInfo ToInfo() =>
        new(Repository, Name, Version, ManifestDigest, ManifestSize, OnnxDigest, OnnxSize, Signature, Metrics, CreatedAt);

    /// <summary>
    /// The reference a desired state carries; <paramref name="runtime"/> as <see cref="Models.ModelRuntimes.Parse"/>
    /// gave it (null: in-process ONNX, which keeps documents written before containers unchanged).
    /// </summary>
    public ModelReference ToReference(string? runtime = null) =>
        new(Repository, Name, Version, ManifestDigest, ManifestSize, Signature) { Runtime = runtime };
}
