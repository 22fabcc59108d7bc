using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Contracts;
using EdgePlatform.Security;
using EdgePlatform.Security.Tuf;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Logging;

namespace EdgePlatform.Agent.Core.Packages;

/// <summary>
/// Pulls a model package by digest and proves it before anything runs it: the signed targets
/// metadata (fresh, not rolled back, signed by the targets threshold of the pinned root) must
/// approve this release for the device's channel with exactly this manifest digest and size;
/// the manifest must hash to that digest and carry a CMS signature by a threshold of targets
/// keys; every blob must match the digest and size the manifest lists. Any failure names the
/// check and nothing is installed.
/// </summary>
public sealed partial class PackageInstaller(
    IRegistryClient registry,
    IModelStore store,
    ITrustStore trust,
    IOptions<AgentOptions> options,
    ILogger<PackageInstaller> logger)
{
    /// <summary>Manifests are small; anything larger is refused without reading it all.</summary>
    public const long MaxManifestBytes = 1 << 20;

    public async Task<InstalledModel> InstallAsync(ModelReference reference, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reference);
        TrustedMetadata metadata;
        TargetEntry approved;
        try
        {
            metadata = await trust.RefreshAsync(cancellationToken).ConfigureAwait(false);
            approved = TufClient.Authorize(metadata.Targets, reference.Name, reference.Version, options.Value.Channel, reference.ManifestDigest, reference.ManifestSize);
        }
        catch (TufVerificationException ex)
        {
            throw new PackageRejectedException(ex.Check, ex.Reason ?? ex.Message);
        }

        var (manifestBytes, stored) = await FetchManifestAsync(reference, cancellationToken).ConfigureAwait(false);
        var manifest = await VerifyManifestAsync(reference, manifestBytes, metadata.Root, cancellationToken).ConfigureAwait(false);
        if (!stored)
        {
            await store.WriteAsync(reference.ManifestDigest, manifestBytes, cancellationToken).ConfigureAwait(false);
        }

        var onnx = manifest.FindLayer(MediaTypes.Onnx)!;
        await EnsureBlobAsync(reference.Repository, manifest.Config, cancellationToken).ConfigureAwait(false);
        await EnsureBlobAsync(reference.Repository, onnx, cancellationToken).ConfigureAwait(false);

        var card = ReadCard(await store.ReadAsync(manifest.Config.Digest, cancellationToken).ConfigureAwait(false));
        if (!string.Equals(card.Name, reference.Name, StringComparison.Ordinal) || !string.Equals(card.Version, reference.Version, StringComparison.Ordinal))
        {
            throw new PackageRejectedException(
                VerificationChecks.ManifestFormat,
                $"the package holds model {card.Name}:{card.Version}, the deployment names {reference.Name}:{reference.Version}");
        }

        LogInstalled(reference.Name, reference.Version, reference.ManifestDigest);
        return new InstalledModel(reference, card, store.PathOf(onnx.Digest)) { Image = approved.Image };
    }

    /// <summary>
    /// Re-verifies an installed package from local disk only (after a restart): signature,
    /// manifest and every blob digest, so a file altered on disk is never loaded.
    /// </summary>
    public async Task<InstalledModel> LoadInstalledAsync(ModelReference reference, CancellationToken cancellationToken)
    {
        if (!store.Contains(reference.ManifestDigest))
        {
            throw new PackageRejectedException(VerificationChecks.ManifestDigest, $"manifest {reference.ManifestDigest} is not on disk");
        }

        // Offline-capable: the release must still be approved by the targets last verified (on
        // disk). Its manifest signature is not re-checked: after a targets key rotation the
        // stored signature is by a retired key, while the re-signed targets still approve it.
        TargetEntry approved;
        try
        {
            var targets = await trust.TrustedTargetsAsync(cancellationToken).ConfigureAwait(false)
                ?? throw new TufVerificationException(TufChecks.TargetUnknown, "no verified targets metadata is on disk");
            approved = TufClient.Authorize(targets, reference.Name, reference.Version, options.Value.Channel, reference.ManifestDigest, reference.ManifestSize);
        }
        catch (TufVerificationException ex)
        {
            throw new PackageRejectedException(ex.Check, ex.Reason ?? ex.Message);
        }

        var manifestBytes = await store.ReadAsync(reference.ManifestDigest, cancellationToken).ConfigureAwait(false);
        var manifest = await VerifyManifestAsync(reference, manifestBytes, root: null, cancellationToken).ConfigureAwait(false);
        var onnx = manifest.FindLayer(MediaTypes.Onnx)!;
        foreach (var blob in new[] { manifest.Config, onnx })
        {
            if (!await store.VerifyAsync(blob.Digest, blob.Size, cancellationToken).ConfigureAwait(false))
            {
                throw new PackageRejectedException(VerificationChecks.LayerDigest, $"stored blob {blob.Digest} ({blob.MediaType}) is missing or altered");
            }
        }

        var card = ReadCard(await store.ReadAsync(manifest.Config.Digest, cancellationToken).ConfigureAwait(false));
        return new InstalledModel(reference, card, store.PathOf(onnx.Digest)) { Image = approved.Image };
    }

    /// <summary>The manifest from the local store when the copy there is intact, else from the registry.</summary>
    private async Task<(byte[] Bytes, bool Stored)> FetchManifestAsync(ModelReference reference, CancellationToken cancellationToken)
    {
        if (!ContentDigest.IsValid(reference.ManifestDigest))
        {
            throw new PackageRejectedException(VerificationChecks.ManifestDigest, $"'{reference.ManifestDigest}' is not a sha256 digest");
        }

        if (reference.ManifestSize is <= 0 or > MaxManifestBytes)
        {
            throw new PackageRejectedException(VerificationChecks.ManifestSize, $"manifest size {reference.ManifestSize} is outside 1..{MaxManifestBytes}");
        }

        // A stored copy is used only while it still hashes to its name; an altered one is fetched again.
        if (store.Contains(reference.ManifestDigest))
        {
            var local = await store.ReadAsync(reference.ManifestDigest, cancellationToken).ConfigureAwait(false);
            if (local.Length == reference.ManifestSize && ContentDigest.Compute(local) == reference.ManifestDigest)
            {
                return (local, true);
            }
        }

        return (await registry.GetManifestAsync(reference.Repository, reference.ManifestDigest, reference.ManifestSize, cancellationToken).ConfigureAwait(false), false);
    }

    /// <summary>Digest, size, format and (when <paramref name="root"/> is given) the targets signature threshold.</summary>
    private async Task<OciManifest> VerifyManifestAsync(ModelReference reference, byte[] manifestBytes, RootMetadata? root, CancellationToken cancellationToken)
    {
        if (manifestBytes.Length != reference.ManifestSize)
        {
            throw new PackageRejectedException(
                VerificationChecks.ManifestSize,
                $"manifest has {manifestBytes.Length} bytes, the signed deployment says {reference.ManifestSize}");
        }

        var actual = ContentDigest.Compute(manifestBytes);
        if (!string.Equals(actual, reference.ManifestDigest, StringComparison.Ordinal))
        {
            throw new PackageRejectedException(VerificationChecks.ManifestDigest, $"manifest should have digest {reference.ManifestDigest} but has {actual}");
        }

        if (root is not null)
        {
            var signature = string.IsNullOrEmpty(reference.Signature)
                ? await registry.GetSignatureAsync(reference.Repository, reference.ManifestDigest, cancellationToken).ConfigureAwait(false)
                    ?? throw new PackageRejectedException(
                        VerificationChecks.Signature,
                        $"the deployment carries no signature and the registry has no {OciManifest.SignatureTag(reference.ManifestDigest)} tag")
                : DecodeSignature(reference.Signature);
            VerifySignature(manifestBytes, signature, root);
        }

        return OciManifest.ReadModelPackage(manifestBytes, out var problem)
            ?? throw new PackageRejectedException(VerificationChecks.ManifestFormat, problem!);
    }

    private static byte[] DecodeSignature(string signature)
    {
        try
        {
            return Convert.FromBase64String(signature);
        }
        catch (FormatException)
        {
            throw new PackageRejectedException(VerificationChecks.Signature, "the signature is not base64");
        }
    }

    private static void VerifySignature(byte[] manifestBytes, byte[] signature, RootMetadata root)
    {
        if (TufEnvelopes.ManifestSignatureProblem(manifestBytes, signature, root) is { } problem)
        {
            throw new PackageRejectedException(VerificationChecks.Signature, problem);
        }
    }

    private async Task EnsureBlobAsync(string repository, OciDescriptor descriptor, CancellationToken cancellationToken)
    {
        if (!ContentDigest.IsValid(descriptor.Digest) || descriptor.Size < 0)
        {
            throw new PackageRejectedException(VerificationChecks.ManifestFormat, $"manifest lists an invalid blob '{descriptor.Digest}' of size {descriptor.Size}");
        }

        if (await store.VerifyAsync(descriptor.Digest, descriptor.Size, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        await store.AddAsync(descriptor, (offset, ct) => registry.OpenBlobAsync(repository, descriptor.Digest, offset, ct), cancellationToken).ConfigureAwait(false);

        LogPulled(descriptor.Digest, descriptor.Size);
    }

    private static ModelCard ReadCard(byte[] bytes) =>
        ModelCard.Read(bytes, out var problem) ?? throw new PackageRejectedException(VerificationChecks.ManifestFormat, problem!);

    [LoggerMessage(EventId = 1100, Level = LogLevel.Information, Message = "Pulled blob {Digest} ({Size} bytes)")]
    private partial void LogPulled(string digest, long size);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Model {Name}:{Version} ({ManifestDigest}) verified and installed")]
    private partial void LogInstalled(string name, string version, string manifestDigest);
}
