using EdgePlatform.ControlPlane.Host.Registry;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.Oci;

namespace EdgePlatform.ControlPlane.Host.Containers;

/// <summary>Where a containerized release's blobs and manifests go: the registry its devices pull from.</summary>
public interface IImageRegistryTarget
{
    /// <summary>How the registry is named to the user.</summary>
    string Name { get; }

    /// <summary>Stores a blob of known digest unless the registry has it; <paramref name="open"/> is called only to upload.</summary>
    Task PushBlobAsync(string repository, string digest, long size, Func<Stream> open, CancellationToken cancellationToken);

    /// <summary>Stores a manifest (an image manifest or an index) under its digest and, when given, a tag.</summary>
    Task PushManifestAsync(string repository, string digest, byte[] content, string mediaType, string? tag, CancellationToken cancellationToken);
}

/// <summary>The embedded registry: blobs into the artifact store, manifests and tags into its index, as a push over HTTP would leave them.</summary>
public sealed class EmbeddedImageTarget(IArtifactStore artifacts, IRegistryManifestIndex index, TimeProvider timeProvider) : IImageRegistryTarget
{
    public string Name => "the embedded registry";

    public async Task PushBlobAsync(string repository, string digest, long size, Func<Stream> open, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(open);
        if (await artifacts.GetSizeAsync(digest, cancellationToken).ConfigureAwait(false) is null)
        {
            var content = open();
            await using (content.ConfigureAwait(false))
            {
                await artifacts.PutAsync(digest, content, cancellationToken).ConfigureAwait(false);
            }
        }

        await index.LinkBlobAsync(repository, digest, cancellationToken).ConfigureAwait(false);
    }

    public async Task PushManifestAsync(string repository, string digest, byte[] content, string mediaType, string? tag, CancellationToken cancellationToken)
    {
        await artifacts.PutAsync(content, cancellationToken).ConfigureAwait(false);
        await index.SaveAsync(new RegistryManifest(repository, digest, mediaType, content.Length), tag, timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>An external registry over the OCI distribution API.</summary>
public sealed class DistributionImageTarget(OciDistributionClient client, Uri registry) : IImageRegistryTarget
{
    public string Name => registry.ToString();

    public async Task PushBlobAsync(string repository, string digest, long size, Func<Stream> open, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(open);
        if (await client.BlobExistsAsync(repository, digest, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        var content = open();
        await using (content.ConfigureAwait(false))
        {
            await client.PushBlobAsync(repository, digest, content, size, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task PushManifestAsync(string repository, string digest, byte[] content, string mediaType, string? tag, CancellationToken cancellationToken)
    {
        await client.PushManifestAsync(repository, digest, content, mediaType, cancellationToken).ConfigureAwait(false);
        if (tag is not null)
        {
            await client.PushManifestAsync(repository, tag, content, mediaType, cancellationToken).ConfigureAwait(false);
        }
    }
}
