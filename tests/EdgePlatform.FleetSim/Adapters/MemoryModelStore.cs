using System.Collections.Concurrent;
using System.Security.Cryptography;
using EdgePlatform.Agent.Core.Packages;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Contracts;

namespace EdgePlatform.FleetSim.Adapters;

/// <summary>
/// A simulated device's model store: blobs arrive through the agent's <see cref="BlobReceiver"/>,
/// so each is bounded at its signed size and hashed against its digest on every device. Manifests
/// and model cards are kept in memory (the installer reads them); a model.onnx is hashed as it
/// streams and then dropped, since no simulated device runs it: ten thousand devices could not
/// hold their copies. The store remembers which digests it verified and fetches none twice.
/// </summary>
internal sealed class MemoryModelStore : IModelStore
{
    private readonly ConcurrentDictionary<string, Held> _blobs = new(StringComparer.Ordinal);

    public string PathOf(string digest) => "memory:" + digest;

    public bool Contains(string digest) => _blobs.ContainsKey(digest);

    public Task<bool> VerifyAsync(string digest, long size, CancellationToken cancellationToken) =>
        Task.FromResult(_blobs.TryGetValue(digest, out var held)
            && held.Size == size
            && (held.Content is null || string.Equals(ContentDigest.Compute(held.Content), digest, StringComparison.Ordinal)));

    public Task<byte[]> ReadAsync(string digest, CancellationToken cancellationToken) =>
        _blobs.TryGetValue(digest, out var held) && held.Content is { } content
            ? Task.FromResult(content)
            : throw new FileNotFoundException($"blob {digest} is not held in memory (a model is verified as it streams, not kept)");

    public Task WriteAsync(string digest, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        _blobs[digest] = new Held(content.Length, content.ToArray());
        return Task.CompletedTask;
    }

    public async Task AddAsync(OciDescriptor descriptor, Func<long, CancellationToken, Task<BlobContent>> open, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentNullException.ThrowIfNull(open);
        var keep = !string.Equals(descriptor.MediaType, MediaTypes.Onnx, StringComparison.Ordinal);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var target = keep ? new MemoryStream() : null;
        long received;

        // Nothing partial is kept between attempts: a cut-off download starts over.
        var content = await open(0, cancellationToken).ConfigureAwait(false);
        await using (content.ConfigureAwait(false))
        {
            received = await BlobReceiver.ReceiveAsync(content.Stream, target ?? Stream.Null, hash, descriptor, 0, cancellationToken).ConfigureAwait(false);
        }

        if (BlobReceiver.Refusal(descriptor, received, hash) is { } refusal)
        {
            throw refusal;
        }

        _blobs[descriptor.Digest] = new Held(descriptor.Size, target?.ToArray());
    }

    /// <summary>A blob not kept was hashed on arrival and cannot have changed since: its digest is its measurement.</summary>
    public Task<string?> MeasureAsync(string digest, CancellationToken cancellationToken) =>
        Task.FromResult(_blobs.TryGetValue(digest, out var held)
            ? held.Content is { } content ? ContentDigest.Compute(content) : digest
            : null);

    private sealed record Held(long Size, byte[]? Content);
}
