using System.Collections.Concurrent;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Tests.Fakes;

internal sealed class InMemoryArtifactStore : IArtifactStore
{
    private readonly ConcurrentDictionary<string, byte[]> _blobs = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, byte[]> Blobs => _blobs;

    public Task<string> PutAsync(ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        var digest = ContentDigest.Compute(content.Span);
        _blobs.TryAdd(digest, content.ToArray());
        return Task.FromResult(digest);
    }

    public async Task<(string Digest, long Size)> PutAsync(Stream content, CancellationToken cancellationToken)
    {
        using var copy = new MemoryStream();
        await content.CopyToAsync(copy, cancellationToken);
        return (await PutAsync(copy.ToArray(), cancellationToken), copy.Length);
    }

    public async Task<long> PutAsync(string digest, Stream content, CancellationToken cancellationToken)
    {
        using var copy = new MemoryStream();
        await content.CopyToAsync(copy, cancellationToken);
        var actual = ContentDigest.Compute(copy.ToArray());
        if (actual != digest)
        {
            throw new ArtifactDigestMismatchException(digest, actual, copy.Length);
        }

        _blobs.TryAdd(digest, copy.ToArray());
        return copy.Length;
    }

    public Task<Stream?> OpenReadAsync(string digest, CancellationToken cancellationToken) =>
        Task.FromResult<Stream?>(_blobs.TryGetValue(digest, out var blob) ? new MemoryStream(blob, writable: false) : null);

    public Task<long?> GetSizeAsync(string digest, CancellationToken cancellationToken) =>
        Task.FromResult<long?>(_blobs.TryGetValue(digest, out var blob) ? blob.Length : null);
}
