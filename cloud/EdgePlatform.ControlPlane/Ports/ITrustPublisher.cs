using EdgePlatform.Security.Tuf;

namespace EdgePlatform.ControlPlane.Ports;

/// <summary>
/// The release side of the chain of trust: signs package manifests and approves releases in
/// the signed targets metadata that devices verify against the root they pinned at enrollment.
/// </summary>
public interface ITrustPublisher
{
    /// <summary>The current root metadata (a signed JSON document), pinned by devices at enrollment.</summary>
    string TrustedRoot { get; }

    /// <summary>A CMS detached signature over a manifest by the targets key(s).</summary>
    byte[] SignManifest(ReadOnlySpan<byte> manifest);

    /// <summary>True when <paramref name="signature"/> over <paramref name="manifest"/> meets the current targets threshold.</summary>
    bool VerifiesAsTargets(ReadOnlySpan<byte> manifest, ReadOnlySpan<byte> signature);

    /// <summary>Approves a release for the default channels in the targets metadata and refreshes the timestamp.</summary>
    Task ApproveAsync(string name, string version, string repository, string manifestDigest, long manifestLength, CancellationToken cancellationToken);

    /// <summary>
    /// Adds a release's container image to its entry in the signed targets metadata; the entry
    /// must exist. Fails with <see cref="ConflictException"/> when targets are signed offline.
    /// </summary>
    Task RecordImageAsync(string name, string version, ContainerImageTarget image, CancellationToken cancellationToken);
}
