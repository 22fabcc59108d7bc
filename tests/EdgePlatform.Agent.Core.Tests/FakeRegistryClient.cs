using System.Collections.Concurrent;
using System.Net;
using EdgePlatform.Agent.Core.Ports;

namespace EdgePlatform.Agent.Core.Tests;

/// <summary>An in-memory registry: digest → bytes, counting what the agent pulls.</summary>
internal sealed class FakeRegistryClient : IRegistryClient
{
    private readonly ConcurrentDictionary<string, byte[]> _manifests = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Func<Stream>> _blobs = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _manifestPulls = new();
    private readonly ConcurrentQueue<string> _blobPulls = new();
    private readonly ConcurrentQueue<long> _offsets = new();

    public IReadOnlyCollection<string> ManifestPulls => _manifestPulls;

    public IReadOnlyCollection<string> BlobPulls => _blobPulls;

    public int Pulls => _manifestPulls.Count + _blobPulls.Count;

    public void Publish(TestPackage package)
    {
        ServeManifest(package.Reference.ManifestDigest, package.ManifestBytes);
        ServeBlob(package.CardDigest, package.CardBytes);
        ServeBlob(package.OnnxDigest, package.ModelBytes);
    }

    public void ServeManifest(string digest, byte[] bytes) => _manifests[digest] = bytes;

    public void ServeBlob(string digest, byte[] bytes) => _blobs[digest] = () => new MemoryStream(bytes, writable: false);

    public void ServeBlob(string digest, Func<Stream> open) => _blobs[digest] = open;

    public Task<byte[]> GetManifestAsync(string repository, string digest, long maxBytes, CancellationToken cancellationToken)
    {
        _manifestPulls.Enqueue(digest);
        if (!_manifests.TryGetValue(digest, out var bytes))
        {
            throw new HttpRequestException($"the registry does not have manifest {digest}", null, HttpStatusCode.NotFound);
        }

        // Like the real client: at most one byte past the limit.
        return Task.FromResult(bytes.Length > maxBytes + 1 ? bytes[..(int)(maxBytes + 1)] : bytes);
    }

    private readonly ConcurrentDictionary<string, byte[]> _signatures = new(StringComparer.Ordinal);

    /// <summary>Stores a signature as a registry does under the manifest's signature tag.</summary>
    public void ServeSignature(string manifestDigest, byte[] signature) => _signatures[manifestDigest] = signature;

    public Task<byte[]?> GetSignatureAsync(string repository, string manifestDigest, CancellationToken cancellationToken) =>
        Task.FromResult(_signatures.TryGetValue(manifestDigest, out var signature) ? signature : null);

    public Task<BlobContent> OpenBlobAsync(string repository, string digest, long offset, CancellationToken cancellationToken)
    {
        _blobPulls.Enqueue(digest);
        _offsets.Enqueue(offset);
        if (!_blobs.TryGetValue(digest, out var open))
        {
            throw new HttpRequestException($"the registry does not have blob {digest}", null, HttpStatusCode.NotFound);
        }

        var stream = open();
        if (offset > 0 && stream.CanSeek)
        {
            // Like a registry honouring Range: only the rest of the blob.
            stream.Position = offset;
            return Task.FromResult(new BlobContent(stream, FromOffset: true));
        }

        return Task.FromResult(new BlobContent(stream, FromOffset: false));
    }

    /// <summary>The offsets the agent asked for, in order.</summary>
    public IReadOnlyCollection<long> Offsets => _offsets;
}

/// <summary>A blob that never ends; counts how much of it was read.</summary>
internal sealed class EndlessStream : Stream
{
    public long BytesRead { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        buffer.Fill((byte)'x');
        BytesRead += buffer.Length;
        return buffer.Length;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
