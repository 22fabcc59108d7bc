using System.Collections.Concurrent;
using System.Text.Json;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Host.Registry;

/// <summary>
/// Which blobs a repository holds: those uploaded into it, those its manifests name (the manifests themselves, their
/// config and layers, and the manifests an index names), for a model's repository the manifests
/// of its versions. A pull token for one repository reads nothing else, although every blob
/// shares one content-addressed store. What a manifest names never changes, so it is read once.
/// </summary>
public sealed class RepositoryBlobs(IModelStore models, IArtifactStore artifacts, IRegistryManifestIndex? index)
{
    private const string ModelRepositoryPrefix = "models/";
    private const int MaxIndexDepth = 2;
    private readonly ConcurrentDictionary<string, string[]> _named = new(StringComparer.Ordinal);

    public async Task<bool> HoldsAsync(string repository, string digest, CancellationToken cancellationToken)
    {
        if (index is not null && await index.IsBlobLinkedAsync(repository, digest, cancellationToken).ConfigureAwait(false))
        {
            return true;
        }

        foreach (var manifest in await ManifestsAsync(repository, cancellationToken).ConfigureAwait(false))
        {
            if (await NamesAsync(manifest, digest, MaxIndexDepth, cancellationToken).ConfigureAwait(false))
            {
                return true;
            }
        }

        return false;
    }

    private async Task<IEnumerable<string>> ManifestsAsync(string repository, CancellationToken cancellationToken)
    {
        IEnumerable<string> pushed = index is null ? [] : await index.ListDigestsAsync(repository, cancellationToken).ConfigureAwait(false);
        if (!repository.StartsWith(ModelRepositoryPrefix, StringComparison.Ordinal))
        {
            return pushed;
        }

        var versions = await models.ListModelsAsync(cancellationToken).ConfigureAwait(false);
        return versions.Where(m => string.Equals(m.Repository, repository, StringComparison.Ordinal)).Select(m => m.ManifestDigest).Concat(pushed);
    }

    private async Task<bool> NamesAsync(string manifest, string digest, int depth, CancellationToken cancellationToken)
    {
        if (string.Equals(manifest, digest, StringComparison.Ordinal))
        {
            return true;
        }

        var named = await NamedByAsync(manifest, cancellationToken).ConfigureAwait(false);
        if (named.Contains(digest, StringComparer.Ordinal))
        {
            return true;
        }

        if (depth == 0)
        {
            return false;
        }

        foreach (var child in named)
        {
            if (await NamesAsync(child, digest, depth - 1, cancellationToken).ConfigureAwait(false))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The digests a manifest or index names; none for a blob that is not one.</summary>
    private async Task<string[]> NamedByAsync(string manifest, CancellationToken cancellationToken)
    {
        if (_named.TryGetValue(manifest, out var cached))
        {
            return cached;
        }

        string[] named = [];
        var stream = await artifacts.OpenReadAsync(manifest, cancellationToken).ConfigureAwait(false);
        if (stream is not null)
        {
            await using (stream.ConfigureAwait(false))
            {
                try
                {
                    using var document = await JsonDocument.ParseAsync(stream, default, cancellationToken).ConfigureAwait(false);
                    named = [.. Descriptors(document.RootElement)];
                }
                catch (JsonException)
                {
                    // A layer, not a manifest: it names nothing.
                }
            }
        }

        return _named.GetOrAdd(manifest, named);
    }

    private static IEnumerable<string> Descriptors(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            yield break;
        }

        if (root.TryGetProperty("config", out var config) && Digest(config) is { } configDigest)
        {
            yield return configDigest;
        }

        foreach (var list in new[] { "layers", "manifests" })
        {
            if (root.TryGetProperty(list, out var descriptors) && descriptors.ValueKind == JsonValueKind.Array)
            {
                foreach (var descriptor in descriptors.EnumerateArray())
                {
                    if (Digest(descriptor) is { } digest)
                    {
                        yield return digest;
                    }
                }
            }
        }
    }

    private static string? Digest(JsonElement descriptor) =>
        descriptor.ValueKind == JsonValueKind.Object && descriptor.TryGetProperty("digest", out var digest) && digest.ValueKind == JsonValueKind.String
            ? digest.GetString()
            : null;
}
