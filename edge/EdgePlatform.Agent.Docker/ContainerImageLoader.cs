using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Docker.DotNet;
using Docker.DotNet.Models;
using EdgePlatform.Agent.Core.Packages;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Contracts;
using EdgePlatform.Security;
using EdgePlatform.Security.Tuf;
using Microsoft.Extensions.Logging;

namespace EdgePlatform.Agent.Docker;

/// <summary>
/// Brings a release's container image into the engine only as its signed targets entry names it:
/// the agent pulls the platform's manifest and blobs itself, with its own registry token, checks
/// the manifest's digest and size and every blob's digest as it reads them, hands the engine a
/// docker-archive of exactly those bytes (<c>POST /images/load</c>), and accepts the result only
/// when the loaded image id is the config digest the entry signs. The engine never pulls.
/// </summary>
internal sealed class ContainerImageLoader(IDockerClient docker, IRegistryClient registry, string platform, ILogger logger)
{
    /// <summary>Image manifests are small; a larger one is refused before it is read.</summary>
    private const long MaxManifestBytes = 1 << 20;

    /// <summary>
    /// Loads <paramref name="model"/>'s image for this device's platform unless the engine holds it
    /// already (an image id is the digest of its config, which names every layer), and returns its id.
    /// </summary>
    /// <exception cref="PackageRejectedException">The release has no image for this platform, or a check failed; the check is named.</exception>
    public async Task<string> EnsureLoadedAsync(InstalledModel model, string workDirectory, CancellationToken cancellationToken)
    {
        var release = $"{model.Reference.Name}:{model.Reference.Version}";
        var image = model.Image ?? throw new PackageRejectedException(
            VerificationChecks.ImageManifest,
            $"release {release} is deployed to run in a container, but its signed targets entry names no container image (containerize the release first)");
        var target = image.For(platform) ?? throw new PackageRejectedException(
            VerificationChecks.ImageManifest,
            $"release {release} has container images for [{string.Join(", ", image.Platforms.Select(p => p.Platform))}], none for this device's platform {platform}");
        if (!ContentDigest.IsValid(target.ConfigDigest) || !ContentDigest.IsValid(target.ManifestDigest))
        {
            throw new PackageRejectedException(VerificationChecks.ImageManifest, $"the signed image entry of {release} for {platform} holds an invalid digest");
        }

        if (await LoadedIdAsync(target.ConfigDigest, cancellationToken).ConfigureAwait(false) is { } present)
        {
            return present;
        }

        var manifest = await FetchManifestAsync(image, target, release, cancellationToken).ConfigureAwait(false);
        var directory = Directory.CreateDirectory(Path.Combine(workDirectory, "image-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)))).FullName;
        try
        {
            foreach (var blob in manifest.Layers.Prepend(manifest.Config))
            {
                await DownloadAsync(image.Repository, blob, Path.Combine(directory, ContentDigest.Hex(blob.Digest)), cancellationToken).ConfigureAwait(false);
            }

            var archive = Path.Combine(directory, "image.tar");
            await WriteArchiveAsync(archive, directory, manifest, cancellationToken).ConfigureAwait(false);
            var loaded = await LoadAsync(archive, cancellationToken).ConfigureAwait(false);
            if (!string.Equals(loaded, target.ConfigDigest, StringComparison.Ordinal))
            {
                throw new PackageRejectedException(
                    VerificationChecks.ImageId,
                    $"the engine loaded image {loaded ?? "(no id reported)"} for {release}, the signed targets entry names {target.ConfigDigest}");
            }

            Log.ImageLoaded(logger, release, platform, target.ManifestDigest, target.ConfigDigest);
            return target.ConfigDigest;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private async Task<string?> LoadedIdAsync(string imageId, CancellationToken cancellationToken)
    {
        try
        {
            var inspected = await docker.Images.InspectImageAsync(imageId, cancellationToken).ConfigureAwait(false);
            return string.Equals(inspected.ID, imageId, StringComparison.Ordinal) ? inspected.ID : null;
        }
        catch (DockerImageNotFoundException)
        {
            return null;
        }
    }

    private async Task<OciManifest> FetchManifestAsync(ContainerImageTarget image, PlatformImage target, string release, CancellationToken cancellationToken)
    {
        if (target.ManifestSize is <= 0 or > MaxManifestBytes)
        {
            throw new PackageRejectedException(VerificationChecks.ImageManifest, $"the image manifest size {target.ManifestSize} signed for {release} is outside 1..{MaxManifestBytes}");
        }

        byte[] bytes;
        try
        {
            bytes = await registry.GetManifestAsync(image.Repository, target.ManifestDigest, target.ManifestSize, cancellationToken).ConfigureAwait(false);
        }
        catch (PackageRejectedException ex)
        {
            throw new PackageRejectedException(VerificationChecks.ImageManifest, $"image manifest {target.ManifestDigest} of {release}: {ex.Reason ?? ex.Message}");
        }

        if (bytes.Length != target.ManifestSize)
        {
            throw new PackageRejectedException(
                VerificationChecks.ImageManifest, $"the image manifest of {release} for {platform} has {bytes.Length} bytes, the signed targets entry says {target.ManifestSize}");
        }

        var actual = ContentDigest.Compute(bytes);
        if (!string.Equals(actual, target.ManifestDigest, StringComparison.Ordinal))
        {
            throw new PackageRejectedException(
                VerificationChecks.ImageManifest, $"the image manifest of {release} for {platform} has digest {actual}, the signed targets entry says {target.ManifestDigest}");
        }

        OciManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize(bytes, ContractsJsonContext.Default.OciManifest);
        }
        catch (JsonException ex)
        {
            throw new PackageRejectedException(VerificationChecks.ImageManifest, $"the image manifest of {release} is not JSON: {ex.Message}");
        }

        if (manifest?.Config is null || manifest.Layers is null || !manifest.Layers.All(layer => ContentDigest.IsValid(layer.Digest) && layer.Size >= 0))
        {
            throw new PackageRejectedException(VerificationChecks.ImageManifest, $"the image manifest of {release} is not an image manifest with a config and valid layers");
        }

        if (!string.Equals(manifest.Config.Digest, target.ConfigDigest, StringComparison.Ordinal))
        {
            throw new PackageRejectedException(
                VerificationChecks.ImageId, $"the image manifest of {release} names config {manifest.Config.Digest}, the signed targets entry says {target.ConfigDigest}");
        }

        return manifest;
    }

    /// <summary>Writes one blob to <paramref name="path"/>, hashing as it goes; refused unless it has its descriptor's size and digest.</summary>
    private async Task DownloadAsync(string repository, OciDescriptor blob, string path, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long written = 0;
        await using (var content = await registry.OpenBlobAsync(repository, blob.Digest, 0, cancellationToken).ConfigureAwait(false))
        await using (var file = File.Create(path))
        {
            var buffer = new byte[81920];
            int read;
            while ((read = await content.Stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                written += read;
                if (written > blob.Size)
                {
                    throw new PackageRejectedException(VerificationChecks.ImageBlobDigest, $"image blob {blob.Digest} is longer than the {blob.Size} bytes its manifest lists");
                }

                hash.AppendData(buffer, 0, read);
                await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            }
        }

        var actual = ContentDigest.FromHash(hash.GetHashAndReset());
        if (written != blob.Size || !string.Equals(actual, blob.Digest, StringComparison.Ordinal))
        {
            throw new PackageRejectedException(
                VerificationChecks.ImageBlobDigest, $"image blob should be {blob.Digest} ({blob.Size} bytes) but is {actual} ({written} bytes)");
        }

        Log.ImageBlobPulled(logger, blob.Digest, blob.Size);
    }

    /// <summary>
    /// The docker-archive format <c>/images/load</c> reads: the config as <c>&lt;hex&gt;.json</c>,
    /// each layer as its blob (the engine decompresses gzip itself), and a <c>manifest.json</c>
    /// naming them. No tag: the image is known by its id alone.
    /// </summary>
    private static async Task WriteArchiveAsync(string archive, string directory, OciManifest manifest, CancellationToken cancellationToken)
    {
        var config = ContentDigest.Hex(manifest.Config.Digest) + ".json";
        var layers = manifest.Layers.Select(layer => ContentDigest.Hex(layer.Digest) + "/layer.tar").ToArray();
        var index = new StringBuilder("[{\"Config\":");
        index.Append(JsonSerializer.Serialize(config, ArchiveJson.Default.String)).Append(",\"RepoTags\":null,\"Layers\":");
        index.Append(JsonSerializer.Serialize(layers, ArchiveJson.Default.StringArray)).Append("}]");

        await using var file = File.Create(archive);
        await using var tar = new TarWriter(file, TarEntryFormat.Pax, leaveOpen: false);
        await AddFileAsync(tar, config, Path.Combine(directory, ContentDigest.Hex(manifest.Config.Digest)), cancellationToken).ConfigureAwait(false);
        foreach (var layer in manifest.Layers)
        {
            await AddFileAsync(tar, ContentDigest.Hex(layer.Digest) + "/layer.tar", Path.Combine(directory, ContentDigest.Hex(layer.Digest)), cancellationToken).ConfigureAwait(false);
        }

        var entry = new PaxTarEntry(TarEntryType.RegularFile, "manifest.json") { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(index.ToString())) };
        await tar.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
    }

    private static async Task AddFileAsync(TarWriter tar, string name, string path, CancellationToken cancellationToken)
    {
        await using var content = File.OpenRead(path);
        var entry = new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = content };
        await tar.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Loads the archive; returns the image id the engine reports (<c>Loaded image ID: sha256:…</c>).</summary>
    private async Task<string?> LoadAsync(string archive, CancellationToken cancellationToken)
    {
        var messages = new List<JSONMessage>();
        await using var content = File.OpenRead(archive);
        await docker.Images.LoadImageAsync(new ImageLoadParameters { Quiet = true }, content, new Collect(messages), cancellationToken).ConfigureAwait(false);
        string? error = null;
        string? loaded = null;
        const string LoadedId = "Loaded image ID: ";
        foreach (var message in messages)
        {
            error ??= message.Error?.Message ?? message.ErrorMessage;
            var text = message.Stream?.Trim();
            if (text is not null && text.StartsWith(LoadedId, StringComparison.Ordinal))
            {
                loaded = text[LoadedId.Length..].Trim();
            }
        }

        if (error is not null)
        {
            throw new PackageRejectedException(VerificationChecks.ImageId, $"the engine refused the image: {error}");
        }

        return loaded;
    }

    /// <summary>Progress that only collects, synchronously (Progress&lt;T&gt; would post to the thread pool and could lose the last message).</summary>
    private sealed class Collect(List<JSONMessage> messages) : IProgress<JSONMessage>
    {
        public void Report(JSONMessage value)
        {
            lock (messages)
            {
                messages.Add(value);
            }
        }
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
[System.Text.Json.Serialization.JsonSerializable(typeof(string[]))]
internal sealed partial class ArchiveJson : System.Text.Json.Serialization.JsonSerializerContext;
