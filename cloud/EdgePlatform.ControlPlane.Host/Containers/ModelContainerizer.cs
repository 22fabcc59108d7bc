using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Hosting;
using EdgePlatform.ControlPlane.Models;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.Oci.Images;
using EdgePlatform.Security.Tuf;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Host.Containers;

/// <summary>
/// Packages a release as a container image: each platform of the scorer base image plus one layer
/// holding the release's verified <c>model.onnx</c> and card, pushed with an index over the
/// platforms to <c>&lt;release repository&gt;/image</c> (tagged with the version), and named in the
/// release's signed targets entry. The same release and base give the same digests, so a second
/// run pushes nothing new and changes no metadata.
/// </summary>
public sealed partial class ModelContainerizer(
    ModelRegistry registry,
    IArtifactStore artifacts,
    IImageRegistryTarget target,
    ITrustPublisher trust,
    ServerBootstrap bootstrap,
    IOptions<ContainerizeOptions> options,
    ILogger<ModelContainerizer> logger)
{
    public const string BuildScript = "deployment/scripts/build-scorer-image.sh";

    public static string RepositoryFor(string releaseRepository) => $"{releaseRepository}/image";

    public string BaseImageDirectory =>
        options.Value.BaseImageDirectory is { Length: > 0 } configured
            ? configured
            : Path.Combine(bootstrap.DataDirectory, ContainerizeOptions.DefaultBaseImageDirectoryName);

    public async Task<ModelImageInfo> ContainerizeAsync(string name, string version, CancellationToken cancellationToken)
    {
        var model = await registry.ResolveAsync($"{name}:{version}", cancellationToken).ConfigureAwait(false);
        var images = await ReadBaseAsync(cancellationToken).ConfigureAwait(false);
        var manifestBytes = await ReadVerifiedAsync(model.ManifestDigest, null, cancellationToken).ConfigureAwait(false);
        var package = OciManifest.ReadModelPackage(manifestBytes, out var problem)
            ?? throw new ConflictException($"{name}:{version} is not a model package: {problem}");
        if (!trust.VerifiesAsTargets(manifestBytes, Convert.FromBase64String(model.Signature)))
        {
            throw new ConflictException($"the manifest signature of {name}:{version} does not verify against the current targets keys; sign it again before containerizing");
        }

        var card = await ReadVerifiedAsync(package.Config.Digest, package.Config.Size, cancellationToken).ConfigureAwait(false);
        var onnx = package.FindLayer(MediaTypes.Onnx)!;
        var work = Directory.CreateTempSubdirectory("edgeplatform-containerize-");
        try
        {
            var onnxPath = Path.Combine(work.FullName, "model.onnx");
            await CopyVerifiedAsync(onnx, onnxPath, cancellationToken).ConfigureAwait(false);
            var layerPath = Path.Combine(work.FullName, "layer.tar.gz");
            OciLayer layer;
            var layerFile = File.Create(layerPath);
            await using (layerFile.ConfigureAwait(false))
            {
                layer = await OciLayerWriter.WriteAsync(ScorerImage.ModelLayer(() => File.OpenRead(onnxPath), card), layerFile, cancellationToken).ConfigureAwait(false);
            }

            var repository = RepositoryFor(model.Repository);
            var platforms = new List<(OciIndexEntry Entry, string ConfigDigest)>();
            foreach (var image in images)
            {
                foreach (var baseLayer in image.Manifest.Layers)
                {
                    await target.PushBlobAsync(repository, baseLayer.Digest, baseLayer.Size, () => images.Layout.OpenBlob(baseLayer), cancellationToken).ConfigureAwait(false);
                }

                await target.PushBlobAsync(repository, layer.Descriptor.Digest, layer.Descriptor.Size, () => File.OpenRead(layerPath), cancellationToken).ConfigureAwait(false);
                var config = ScorerImage.WithModel(image.Config, layer.DiffId, model.Name, model.Version, model.ManifestDigest).ToJson();
                var configDescriptor = new OciDescriptor(MediaTypes.OciImageConfig, ContentDigest.Compute(config), config.Length);
                await target.PushBlobAsync(repository, configDescriptor.Digest, configDescriptor.Size, () => new MemoryStream(config, writable: false), cancellationToken).ConfigureAwait(false);
                var manifest = OciImageManifest.For(configDescriptor, [.. image.Manifest.Layers, layer.Descriptor]).ToJson();
                var manifestDigest = ContentDigest.Compute(manifest);
                await target.PushManifestAsync(repository, manifestDigest, manifest, MediaTypes.OciManifest, null, cancellationToken).ConfigureAwait(false);
                platforms.Add((new OciIndexEntry(MediaTypes.OciManifest, manifestDigest, manifest.Length, image.Config.Platform), configDescriptor.Digest));
            }

            var index = OciImageIndex.Of(platforms.Select(p => p.Entry)).ToJson();
            var indexDigest = ContentDigest.Compute(index);
            await target.PushManifestAsync(repository, indexDigest, index, MediaTypes.OciImageIndex, model.Version, cancellationToken).ConfigureAwait(false);

            var signed = new ContainerImageTarget(
                repository,
                indexDigest,
                [.. platforms.Select(p => new PlatformImage(p.Entry.Platform!.ToString(), p.Entry.Digest, p.Entry.Size, p.ConfigDigest))]);
            await trust.RecordImageAsync(model.Name, model.Version, signed, cancellationToken).ConfigureAwait(false);
            LogContainerized(model.Name, model.Version, target.Name, repository, indexDigest);
            return new ModelImageInfo(
                model.Name,
                model.Version,
                target.Name,
                repository,
                indexDigest,
                [.. signed.Platforms.Select(p => new ModelImagePlatform(p.Platform, p.ManifestDigest, p.ManifestSize, p.ConfigDigest))]);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private async Task<BaseImages> ReadBaseAsync(CancellationToken cancellationToken)
    {
        var directory = BaseImageDirectory;
        var build = $"build it with {BuildScript} --arch x64 --out {directory} (and --arch arm64 for arm64 devices), or set Containerize:BaseImageDirectory";
        OciImageLayout layout;
        try
        {
            layout = OciImageLayout.Open(directory);
        }
        catch (OciLayoutException ex)
        {
            throw new ConflictException($"no scorer base image at {directory} ({ex.Message}): {build}");
        }

        var images = await layout.ReadImagesAsync(cancellationToken).ConfigureAwait(false);
        return images.Count == 0
            ? throw new ConflictException($"the scorer base image at {directory} holds no platform: {build}")
            : new BaseImages(layout, images);
    }

    private async Task<byte[]> ReadVerifiedAsync(string digest, long? size, CancellationToken cancellationToken)
    {
        var stream = await artifacts.OpenReadAsync(digest, cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException($"blob {digest} is missing from the artifact store");
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            var bytes = buffer.ToArray();
            return ContentDigest.Compute(bytes) == digest && (size is null || size == bytes.Length)
                ? bytes
                : throw new ConflictException($"blob {digest} in the artifact store does not match its digest or size; the release is corrupt");
        }
    }

    private async Task CopyVerifiedAsync(OciDescriptor blob, string path, CancellationToken cancellationToken)
    {
        var stream = await artifacts.OpenReadAsync(blob.Digest, cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException($"blob {blob.Digest} is missing from the artifact store");
        await using (stream.ConfigureAwait(false))
        {
            var file = File.Create(path);
            await using (file.ConfigureAwait(false))
            {
                await stream.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
            }
        }

        var copy = File.OpenRead(path);
        await using (copy.ConfigureAwait(false))
        {
            if (copy.Length != blob.Size || await ContentDigest.ComputeAsync(copy, cancellationToken).ConfigureAwait(false) != blob.Digest)
            {
                throw new ConflictException($"blob {blob.Digest} in the artifact store does not match its digest or size; the release is corrupt");
            }
        }
    }

    [LoggerMessage(EventId = 1400, Level = LogLevel.Information, Message = "Containerized {Name}:{Version}: pushed to {Registry} as {Repository}@{IndexDigest}")]
    private partial void LogContainerized(string name, string version, string registry, string repository, string indexDigest);

    /// <summary>The base layout and its images, one per platform.</summary>
    private sealed class BaseImages(OciImageLayout layout, IReadOnlyList<OciLayoutImage> images) : List<OciLayoutImage>(images)
    {
        public OciImageLayout Layout { get; } = layout;
    }
}
