using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using EdgePlatform.Contracts;
using EdgePlatform.Oci;
using EdgePlatform.Security;
using EdgePlatform.Security.Tuf;

namespace EdgePlatform.FleetSim;

/// <summary>
/// Pulls and proves a model package for one simulated device, with the checks an agent makes:
/// the signed targets (fresh, not rolled back, threshold-signed under the pinned root) approve
/// exactly this release for the device's channel; the manifest hashes to the approved digest and
/// size and carries a CMS signature by a threshold of targets keys; every blob matches the digest
/// and size the manifest lists. Blobs are hashed as they stream and not kept: a simulated device
/// has no disk, so it remembers which digests it verified, and fetches none of them twice.
/// </summary>
internal sealed class PackagePuller(
    string deviceId,
    TufClient trust,
    OciDistributionClient registry,
    FleetRecord record,
    string channel,
    long bandwidthBytesPerSecond,
    TimeProvider timeProvider)
{
    /// <summary>The model card is the only blob read for its content; a larger one is refused.</summary>
    public const long MaxCardBytes = 1 << 20;

    private const int ChunkSize = 64 * 1024;
    private const int ResumeAttempts = 3;

    // Read by attestation on other threads while a pull runs.
    private readonly ConcurrentDictionary<string, bool> _verified = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte[]> _manifests = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ModelCard> _cards = new(StringComparer.Ordinal);

    /// <summary>
    /// Downloads (or finds already verified) everything <paramref name="reference"/> needs, then
    /// calls <paramref name="verifying"/> and completes the checks. Throws
    /// <see cref="PackageRefusedException"/> naming the failed check; network trouble surfaces as
    /// <see cref="HttpRequestException"/> or <see cref="IOException"/>, to be retried.
    /// </summary>
    public async Task<ModelCard> PullAsync(ModelReference reference, Func<Task> verifying, CancellationToken cancellationToken)
    {
        TargetsMetadata targets;
        RootMetadata root;
        try
        {
            targets = await trust.RefreshAsync(cancellationToken).ConfigureAwait(false);
            root = trust.TrustedRoot();
            TufClient.Authorize(targets, reference.Name, reference.Version, channel, reference.ManifestDigest, reference.ManifestSize);
        }
        catch (TufVerificationException ex)
        {
            throw new PackageRefusedException(ex.Check, ex.Reason ?? ex.Message);
        }

        var manifestBytes = await ManifestAsync(reference, cancellationToken).ConfigureAwait(false);
        VerifySignature(reference, manifestBytes, root);
        var manifest = ReadManifest(manifestBytes);
        var onnx = manifest.FindLayer(MediaTypes.Onnx)!;
        var config = await BlobAsync(reference.Repository, manifest.Config, keepContent: true, cancellationToken).ConfigureAwait(false);
        await BlobAsync(reference.Repository, onnx, keepContent: false, cancellationToken).ConfigureAwait(false);

        await verifying().ConfigureAwait(false);
        var card = _cards.TryGetValue(manifest.Config.Digest, out var known) ? known : ReadCard(config!);
        if (!string.Equals(card.Name, reference.Name, StringComparison.Ordinal) || !string.Equals(card.Version, reference.Version, StringComparison.Ordinal))
        {
            throw new PackageRefusedException(
                VerificationChecks.ManifestFormat,
                $"the package holds model {card.Name}:{card.Version}, the deployment names {reference.Name}:{reference.Version}");
        }

        _cards[manifest.Config.Digest] = card;
        _manifests[reference.ManifestDigest] = manifestBytes;
        return card;
    }

    /// <summary>The ONNX digest of an installed release, for attestation's model measurements.</summary>
    public string? OnnxDigestOf(string manifestDigest) =>
        _manifests.TryGetValue(manifestDigest, out var bytes) ? ReadManifest(bytes).FindLayer(MediaTypes.Onnx)?.Digest : null;

    private async Task<byte[]> ManifestAsync(ModelReference reference, CancellationToken cancellationToken)
    {
        if (!ContentDigest.IsValid(reference.ManifestDigest))
        {
            throw new PackageRefusedException(VerificationChecks.ManifestDigest, $"'{reference.ManifestDigest}' is not a sha256 digest");
        }

        if (_manifests.TryGetValue(reference.ManifestDigest, out var stored))
        {
            return stored;
        }

        byte[] bytes;
        try
        {
            bytes = (await registry.GetManifestAsync(reference.Repository, reference.ManifestDigest, cancellationToken).ConfigureAwait(false)).Content;
        }
        catch (OciContentException ex)
        {
            throw new PackageRefusedException(VerificationChecks.ManifestDigest, ex.Message);
        }
        catch (OciRegistryException ex)
        {
            throw new HttpRequestException(ex.Message, ex, ex.StatusCode);
        }

        var download = record.Download(deviceId, reference.ManifestDigest);
        download.Add(bytes.Length);
        download.Complete();
        if (bytes.Length != reference.ManifestSize)
        {
            throw new PackageRefusedException(VerificationChecks.ManifestSize, $"manifest has {bytes.Length} bytes, the signed deployment says {reference.ManifestSize}");
        }

        var actual = ContentDigest.Compute(bytes);
        if (!string.Equals(actual, reference.ManifestDigest, StringComparison.Ordinal))
        {
            throw new PackageRefusedException(VerificationChecks.ManifestDigest, $"manifest should have digest {reference.ManifestDigest} but has {actual}");
        }

        return bytes;
    }

    private static void VerifySignature(ModelReference reference, byte[] manifestBytes, RootMetadata root)
    {
        byte[] signature;
        try
        {
            signature = Convert.FromBase64String(reference.Signature ?? string.Empty);
        }
        catch (FormatException)
        {
            throw new PackageRefusedException(VerificationChecks.Signature, "the signature in the desired state is not base64");
        }

        if (TufEnvelopes.ManifestSignatureProblem(manifestBytes, signature, root) is { } problem)
        {
            throw new PackageRefusedException(VerificationChecks.Signature, problem);
        }
    }

    private static OciManifest ReadManifest(byte[] bytes) =>
        OciManifest.ReadModelPackage(bytes, out var problem) ?? throw new PackageRefusedException(VerificationChecks.ManifestFormat, problem!);

    private static ModelCard ReadCard(byte[] bytes) =>
        ModelCard.Read(bytes, out var problem) ?? throw new PackageRefusedException(VerificationChecks.ManifestFormat, problem!);

    /// <summary>
    /// Streams a blob through SHA-256, reading at most one byte past its signed size, at the
    /// device's bandwidth; a cut-off download resumes from where it stopped (a Range request)
    /// with the hash state kept, so the bytes served add up to the blob's size exactly.
    /// </summary>
    private async Task<byte[]?> BlobAsync(string repository, OciDescriptor descriptor, bool keepContent, CancellationToken cancellationToken)
    {
        if (!ContentDigest.IsValid(descriptor.Digest) || descriptor.Size < 0)
        {
            throw new PackageRefusedException(VerificationChecks.ManifestFormat, $"manifest lists an invalid blob '{descriptor.Digest}' of size {descriptor.Size}");
        }

        if (_verified.ContainsKey(descriptor.Digest))
        {
            return null;
        }

        if (keepContent && descriptor.Size > MaxCardBytes)
        {
            throw new PackageRefusedException(VerificationChecks.LayerSize, $"the model card blob has {descriptor.Size} bytes, more than the {MaxCardBytes} a card may have");
        }

        var download = record.Download(deviceId, descriptor.Digest);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var content = keepContent ? new byte[descriptor.Size] : null;
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        long received = 0;
        var started = timeProvider.GetTimestamp();
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    var stream = await registry.OpenBlobAsync(repository, descriptor.Digest, received, cancellationToken).ConfigureAwait(false);
                    await using (stream.ConfigureAwait(false))
                    {
                        int read;
                        while ((read = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(ChunkSize, descriptor.Size + 1 - received)), cancellationToken).ConfigureAwait(false)) > 0)
                        {
                            if (received + read > descriptor.Size)
                            {
                                throw new PackageRefusedException(VerificationChecks.LayerSize, $"blob {descriptor.Digest} is longer than the {descriptor.Size} bytes the manifest lists");
                            }

                            hash.AppendData(buffer, 0, read);
                            if (content is not null)
                            {
                                buffer.AsSpan(0, read).CopyTo(content.AsSpan((int)received));
                            }

                            received += read;
                            download.Add(read);
                            await ThrottleAsync(received, started, cancellationToken).ConfigureAwait(false);
                        }
                    }

                    if (received < descriptor.Size)
                    {
                        throw new IOException($"blob {descriptor.Digest} ended after {received} of {descriptor.Size} bytes");
                    }

                    break;
                }
                catch (Exception ex) when (attempt < ResumeAttempts && ex is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
                {
                    // Resumed below from the bytes already hashed.
                }
                catch (OciRegistryException ex)
                {
                    throw new HttpRequestException(ex.Message, ex, ex.StatusCode is HttpStatusCode.OK ? null : ex.StatusCode);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        var actual = "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
        if (!string.Equals(actual, descriptor.Digest, StringComparison.Ordinal))
        {
            throw new PackageRefusedException(VerificationChecks.LayerDigest, $"blob ({descriptor.MediaType}) should have digest {descriptor.Digest} but has {actual}");
        }

        download.Complete();
        _verified[descriptor.Digest] = true;
        return content;
    }

    /// <summary>Holds the download back to the device's bandwidth: what arrived may not outrun the elapsed time.</summary>
    private async Task ThrottleAsync(long received, long started, CancellationToken cancellationToken)
    {
        if (bandwidthBytesPerSecond <= 0)
        {
            return;
        }

        var due = TimeSpan.FromSeconds((double)received / bandwidthBytesPerSecond);
        var ahead = due - timeProvider.GetElapsedTime(started);
        if (ahead > TimeSpan.FromMilliseconds(1))
        {
            await Task.Delay(ahead, timeProvider, cancellationToken).ConfigureAwait(false);
        }
    }
}
