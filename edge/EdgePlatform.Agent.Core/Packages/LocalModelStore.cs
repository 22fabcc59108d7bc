using System.Security.Cryptography;
using EdgePlatform.Agent.Core.Ports;
using EdgePlatform.Contracts;

namespace EdgePlatform.Agent.Core.Packages;

/// <summary>
/// Content-addressed blobs on the device (<c>models/blobs/sha256/&lt;hex&gt;</c>). A blob is
/// written to a temporary file while its digest is computed, cut off at its signed size, and
/// renamed into place only when digest and size match; a digest already present is never
/// downloaded again.
/// </summary>
public sealed class LocalModelStore : IModelStore
{
    private readonly string _blobs;
    private readonly string _incoming;

    public LocalModelStore(string dataDirectory)
    {
        _blobs = Path.Combine(dataDirectory, "models", "blobs", "sha256");
        _incoming = Path.Combine(dataDirectory, "models", "incoming");
        Directory.CreateDirectory(_blobs);
        Directory.CreateDirectory(_incoming);
    }

    public string PathOf(string digest) => Path.Combine(_blobs, ContentDigest.Hex(digest));

    public bool Contains(string digest) => ContentDigest.IsValid(digest) && File.Exists(PathOf(digest));

    /// <summary>Re-hashes a stored blob; false when it is missing or was altered on disk.</summary>
    public async Task<bool> VerifyAsync(string digest, long size, CancellationToken cancellationToken)
    {
        var path = PathOf(digest);
        if (!File.Exists(path) || new FileInfo(path).Length != size)
        {
            return false;
        }

        var stream = File.OpenRead(path);
        await using (stream.ConfigureAwait(false))
        {
            var actual = await ContentDigest.ComputeAsync(stream, cancellationToken).ConfigureAwait(false);
            return string.Equals(actual, digest, StringComparison.Ordinal);
        }
    }

    public async Task<byte[]> ReadAsync(string digest, CancellationToken cancellationToken) =>
        await File.ReadAllBytesAsync(PathOf(digest), cancellationToken).ConfigureAwait(false);

    public async Task WriteAsync(string digest, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        var temporary = Path.Combine(_incoming, Guid.NewGuid().ToString("N"));
        await File.WriteAllBytesAsync(temporary, content.ToArray(), cancellationToken).ConfigureAwait(false);
        File.Move(temporary, PathOf(digest), overwrite: true);
    }

    /// <summary>
    /// Downloads a blob into the store as <paramref name="descriptor"/>. Bytes already in a
    /// partial file from an interrupted attempt are kept and the rest is asked for from that
    /// offset; at most the signed size plus one byte is ever read, and content whose size or
    /// digest differ is refused and discarded. An interrupted transfer keeps its partial file.
    /// </summary>
    public async Task AddAsync(OciDescriptor descriptor, Func<long, CancellationToken, Task<BlobContent>> open, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentNullException.ThrowIfNull(open);
        var partial = Path.Combine(_incoming, ContentDigest.Hex(descriptor.Digest) + ".partial");
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long total = File.Exists(partial) ? new FileInfo(partial).Length : 0;
        if (total > descriptor.Size)
        {
            File.Delete(partial);
            total = 0;
        }

        var content = await open(total, cancellationToken).ConfigureAwait(false);
        await using (content.ConfigureAwait(false))
        {
            if (total > 0 && !content.FromOffset)
            {
                total = 0;
            }

            var target = new FileStream(partial, total > 0 ? FileMode.Open : FileMode.Create, FileAccess.ReadWrite, FileShare.None, 81920, useAsync: true);
            await using (target.ConfigureAwait(false))
            {
                await HashExistingAsync(target, total, hash, cancellationToken).ConfigureAwait(false);
                target.SetLength(total);
                target.Position = total;
                total = await BlobReceiver.ReceiveAsync(content.Stream, target, hash, descriptor, total, cancellationToken).ConfigureAwait(false);
            }
        }

        if (BlobReceiver.Refusal(descriptor, total, hash) is { } refusal)
        {
            File.Delete(partial);
            throw refusal;
        }

        File.Move(partial, PathOf(descriptor.Digest), overwrite: true);
    }

    public async Task<string?> MeasureAsync(string digest, CancellationToken cancellationToken)
    {
        if (!Contains(digest))
        {
            return null;
        }

        var stream = File.OpenRead(PathOf(digest));
        await using (stream.ConfigureAwait(false))
        {
            return await ContentDigest.ComputeAsync(stream, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Bytes kept from an interrupted download (if any) count toward the digest.</summary>
    private static async Task HashExistingAsync(FileStream file, long length, IncrementalHash hash, CancellationToken cancellationToken)
    {
        var buffer = new byte[81920];
        file.Position = 0;
        long done = 0;
        while (done < length)
        {
            var read = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - done)), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            hash.AppendData(buffer, 0, read);
            done += read;
        }
    }
}
