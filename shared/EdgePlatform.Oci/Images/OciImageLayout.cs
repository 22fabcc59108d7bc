using System.Text.Json;
using EdgePlatform.Contracts;

namespace EdgePlatform.Oci.Images;

/// <summary>
/// An OCI image layout on disk: <c>oci-layout</c>, <c>index.json</c> and content-addressed
/// <c>blobs/sha256/&lt;hex&gt;</c>. Blobs are checked against their digest when read.
/// </summary>
public sealed class OciImageLayout
{
    public const string IndexFileName = "index.json";
    public const string MarkerFileName = "oci-layout";
    private const string LayoutVersion = "1.0.0";

    private OciImageLayout(string root) => Root = root;

    public string Root { get; }

    private string IndexPath => Path.Combine(Root, IndexFileName);

    /// <summary>Opens the layout at <paramref name="root"/>, creating an empty one when none is there.</summary>
    public static async Task<OciImageLayout> CreateOrOpenAsync(string root, CancellationToken cancellationToken)
    {
        var layout = new OciImageLayout(Path.GetFullPath(root));
        Directory.CreateDirectory(Path.Combine(layout.Root, "blobs", "sha256"));
        var marker = Path.Combine(layout.Root, MarkerFileName);
        if (!File.Exists(marker))
        {
            await File.WriteAllBytesAsync(marker, JsonSerializer.SerializeToUtf8Bytes(new OciLayoutMarker(LayoutVersion), OciJsonContext.Default.OciLayoutMarker), cancellationToken).ConfigureAwait(false);
        }

        if (!File.Exists(layout.IndexPath))
        {
            await layout.WriteIndexAsync(OciImageIndex.Of([]), cancellationToken).ConfigureAwait(false);
        }

        return layout;
    }

    /// <summary>Opens an existing layout; <see cref="OciLayoutException"/> says what is missing.</summary>
    public static OciImageLayout Open(string root)
    {
        var layout = new OciImageLayout(Path.GetFullPath(root));
        foreach (var file in new[] { MarkerFileName, IndexFileName })
        {
            if (!File.Exists(Path.Combine(layout.Root, file)))
            {
                throw new OciLayoutException($"'{layout.Root}' is not an OCI image layout: it has no {file}");
            }
        }

        return layout;
    }

    public string BlobPath(string digest) =>
        ContentDigest.IsValid(digest)
            ? Path.Combine(Root, "blobs", "sha256", digest[ContentDigest.Sha256Prefix.Length..])
            : throw new ArgumentException($"'{digest}' is not a sha256 digest", nameof(digest));

    public async Task<OciImageIndex> ReadIndexAsync(CancellationToken cancellationToken)
    {
        var bytes = await File.ReadAllBytesAsync(IndexPath, cancellationToken).ConfigureAwait(false);
        return Deserialize(bytes, OciJsonContext.Default.OciImageIndex, IndexFileName);
    }

    public async Task WriteIndexAsync(OciImageIndex index, CancellationToken cancellationToken)
    {
        // Written aside and moved, so a reader never sees half an index.
        var pending = IndexPath + ".tmp";
        await File.WriteAllBytesAsync(pending, JsonSerializer.SerializeToUtf8Bytes(index, OciJsonContext.Default.OciImageIndex), cancellationToken).ConfigureAwait(false);
        File.Move(pending, IndexPath, overwrite: true);
    }

    /// <summary>Stores <paramref name="content"/> as a blob; returns its descriptor.</summary>
    public async Task<OciDescriptor> WriteBlobAsync(ReadOnlyMemory<byte> content, string mediaType, CancellationToken cancellationToken)
    {
        var descriptor = new OciDescriptor(mediaType, ContentDigest.Compute(content.Span), content.Length);
        var path = BlobPath(descriptor.Digest);
        if (!File.Exists(path))
        {
            var pending = path + ".tmp";
            await File.WriteAllBytesAsync(pending, content, cancellationToken).ConfigureAwait(false);
            File.Move(pending, path, overwrite: true);
        }

        return descriptor;
    }

    /// <summary>Writes a layer of <paramref name="entries"/> into the layout.</summary>
    public async Task<OciLayer> WriteLayerAsync(IEnumerable<OciLayerEntry> entries, CancellationToken cancellationToken)
    {
        var pending = Path.Combine(Root, "blobs", "sha256", $"layer-{Guid.NewGuid():N}.tmp");
        try
        {
            OciLayer layer;
            var output = File.Create(pending);
            await using (output.ConfigureAwait(false))
            {
                layer = await OciLayerWriter.WriteAsync(entries, output, cancellationToken).ConfigureAwait(false);
            }

            File.Move(pending, BlobPath(layer.Descriptor.Digest), overwrite: true);
            return layer;
        }
        finally
        {
            File.Delete(pending);
        }
    }

    /// <summary>Opens a blob for reading; its content is not checked (see <see cref="ReadBlobAsync"/>).</summary>
    public Stream OpenBlob(OciDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        var path = BlobPath(descriptor.Digest);
        if (!File.Exists(path))
        {
            throw new OciLayoutException($"the layout at '{Root}' has no blob {descriptor.Digest}");
        }

        return File.OpenRead(path);
    }

    /// <summary>Reads a small blob (a manifest, a config) and checks it against its descriptor.</summary>
    public async Task<byte[]> ReadBlobAsync(OciDescriptor descriptor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        byte[] bytes;
        var stream = OpenBlob(descriptor);
        await using (stream.ConfigureAwait(false))
        {
            if (stream.Length != descriptor.Size)
            {
                throw new OciLayoutException($"blob {descriptor.Digest} in '{Root}' is {stream.Length} bytes; its descriptor says {descriptor.Size}");
            }

            bytes = new byte[stream.Length];
            await stream.ReadExactlyAsync(bytes, cancellationToken).ConfigureAwait(false);
        }

        if (!string.Equals(ContentDigest.Compute(bytes), descriptor.Digest, StringComparison.Ordinal))
        {
            throw new OciLayoutException($"blob {descriptor.Digest} in '{Root}' does not match its digest");
        }

        return bytes;
    }

    /// <summary>The manifest and config of each platform the index lists.</summary>
    public async Task<IReadOnlyList<OciLayoutImage>> ReadImagesAsync(CancellationToken cancellationToken)
    {
        var index = await ReadIndexAsync(cancellationToken).ConfigureAwait(false);
        var images = new List<OciLayoutImage>();
        foreach (var entry in index.Manifests)
        {
            var manifest = Deserialize(await ReadBlobAsync(entry.Descriptor, cancellationToken).ConfigureAwait(false), OciJsonContext.Default.OciImageManifest, entry.Digest);
            var config = Deserialize(await ReadBlobAsync(manifest.Config, cancellationToken).ConfigureAwait(false), OciJsonContext.Default.OciImageConfig, manifest.Config.Digest);
            images.Add(new OciLayoutImage(entry, manifest, config));
        }

        return images;
    }

    /// <summary>Writes <paramref name="config"/> and a manifest over it and <paramref name="layers"/>; returns the index entry naming its platform.</summary>
    public async Task<OciIndexEntry> WriteImageAsync(OciImageConfig config, IReadOnlyList<OciDescriptor> layers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(config);
        var configDescriptor = await WriteBlobAsync(JsonSerializer.SerializeToUtf8Bytes(config, OciJsonContext.Default.OciImageConfig), MediaTypes.OciImageConfig, cancellationToken).ConfigureAwait(false);
        var manifest = await WriteBlobAsync(
            JsonSerializer.SerializeToUtf8Bytes(OciImageManifest.For(configDescriptor, layers), OciJsonContext.Default.OciImageManifest),
            MediaTypes.OciManifest,
            cancellationToken).ConfigureAwait(false);
        return new OciIndexEntry(manifest.MediaType, manifest.Digest, manifest.Size, config.Platform);
    }

    private T Deserialize<T>(byte[] bytes, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, string what)
    {
        try
        {
            return JsonSerializer.Deserialize(bytes, type) ?? throw new OciLayoutException($"{what} in '{Root}' is empty");
        }
        catch (JsonException ex)
        {
            throw new OciLayoutException($"{what} in '{Root}' is not valid JSON: {ex.Message}", ex);
        }
    }
}

/// <summary>One platform's image in a layout.</summary>
public sealed record OciLayoutImage(OciIndexEntry Entry, OciImageManifest Manifest, OciImageConfig Config);
