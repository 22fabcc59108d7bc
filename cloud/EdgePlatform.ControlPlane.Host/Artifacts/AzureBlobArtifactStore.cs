using System.Buffers;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Host.Artifacts;

/// <summary>
/// Blobs in one Azure Blob Storage container as <c>sha256/&lt;hex&gt;</c> block blobs, which
/// every control-plane replica shares. Content is staged as uncommitted blocks on the digest's
/// blob while it is hashed, and the block list is committed only when the hash matches: an
/// uncommitted blob does not exist for readers (the service drops its blocks after a week), so a
/// refused or interrupted write leaves nothing. The commit is conditional on the blob not
/// existing; a replica that loses the race to store the same digest finds the same bytes stored.
/// </summary>
public sealed class AzureBlobArtifactStore : IArtifactStore
{
    /// <summary>
    /// Block and read-buffer size: large enough that a model takes few round trips, small enough
    /// that a write holds one block in memory and a read one buffer, never the whole blob.
    /// </summary>
    private const int BlockBytes = 4 * 1024 * 1024;

    private const string BlobPrefix = "sha256/";

    private readonly BlobContainerClient _container;
    private Task? _containerCreation;

    public AzureBlobArtifactStore(BlobContainerClient container)
    {
        ArgumentNullException.ThrowIfNull(container);
        _container = container;
    }

    public async Task<string> PutAsync(ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        var digest = ContentDigest.Compute(content.Span);
        var array = MemoryMarshal.TryGetArray(content, out var segment) ? segment : new ArraySegment<byte>(content.ToArray());
        using var stream = new MemoryStream(array.Array!, array.Offset, array.Count, writable: false);
        await PutAsync(digest, stream, cancellationToken).ConfigureAwait(false);
        return digest;
    }

    public async Task<(string Digest, long Size)> PutAsync(Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        if (content.CanSeek)
        {
            // The name has to be known before the first block is staged: hash once, then send.
            var start = content.Position;
            var digest = await ContentDigest.ComputeAsync(content, cancellationToken).ConfigureAwait(false);
            content.Position = start;
            return (digest, await PutAsync(digest, content, cancellationToken).ConfigureAwait(false));
        }

        // A stream that cannot be read twice is spooled to a local file that goes with the handle.
        var spool = new FileStream(
            Path.Combine(Path.GetTempPath(), "edgeplatform-artifact-" + Guid.NewGuid().ToString("N")),
            FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 81920, FileOptions.Asynchronous | FileOptions.DeleteOnClose);
        await using (spool.ConfigureAwait(false))
        {
            await content.CopyToAsync(spool, cancellationToken).ConfigureAwait(false);
            spool.Position = 0;
            return await PutAsync(spool, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<long> PutAsync(string digest, Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        var blob = _container.GetBlockBlobClient(NameOf(digest));
        await EnsureContainerAsync(cancellationToken).ConfigureAwait(false);
        if (await GetSizeAsync(digest, cancellationToken).ConfigureAwait(false) is { })
        {
            // Stored already; the content is still checked, so a wrong write is refused either way.
            var (actual, size) = await HashAsync(content, cancellationToken).ConfigureAwait(false);
            return string.Equals(actual, digest, StringComparison.Ordinal) ? size : throw new ArtifactDigestMismatchException(digest, actual, size);
        }

        // Block ids are unique to this write, so two replicas staging the same digest never mix blocks.
        var writer = Guid.NewGuid().ToString("N");
        var blocks = new List<string>();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long total = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(BlockBytes);
        try
        {
            int filled;
            while ((filled = await content.ReadAtLeastAsync(buffer.AsMemory(0, BlockBytes), BlockBytes, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false)) > 0)
            {
                hash.AppendData(buffer, 0, filled);
                var id = Convert.ToBase64String(Encoding.ASCII.GetBytes($"{writer}-{blocks.Count:D6}"));
                using var block = new MemoryStream(buffer, 0, filled, writable: false);
                await blob.StageBlockAsync(id, block, cancellationToken: cancellationToken).ConfigureAwait(false);
                blocks.Add(id);
                total += filled;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        var computed = ContentDigest.FromHash(hash.GetHashAndReset());
        if (!string.Equals(computed, digest, StringComparison.Ordinal))
        {
            throw new ArtifactDigestMismatchException(digest, computed, total);
        }

        try
        {
            await blob.CommitBlockListAsync(
                blocks,
                new CommitBlockListOptions
                {
                    HttpHeaders = new BlobHttpHeaders { ContentType = "application/octet-stream" },
                    Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All },
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException)
        {
            // Another writer committing the digest first fails this commit (and drops the blocks
            // staged beside its own); the blob then holds these very bytes.
            if (await GetSizeAsync(digest, cancellationToken).ConfigureAwait(false) is null)
            {
                throw;
            }
        }

        return total;
    }

    public async Task<Stream?> OpenReadAsync(string digest, CancellationToken cancellationToken)
    {
        if (!ContentDigest.IsValid(digest))
        {
            return null;
        }

        try
        {
            // A seekable stream that fetches one buffer at a time, so Range requests and large models
            // are served without loading the blob. Opening reads the blob's properties, so a missing
            // blob is known here rather than at the first read.
            return await _container.GetBlobClient(NameOf(digest))
                .OpenReadAsync(new BlobOpenReadOptions(allowModifications: false) { BufferSize = BlockBytes }, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    public async Task<long?> GetSizeAsync(string digest, CancellationToken cancellationToken)
    {
        if (!ContentDigest.IsValid(digest))
        {
            return null;
        }

        try
        {
            var properties = await _container.GetBlobClient(NameOf(digest)).GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            return properties.Value.ContentLength;
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    private static string NameOf(string digest) => BlobPrefix + ContentDigest.Hex(digest);

    private static async Task<(string Digest, long Size)> HashAsync(Stream content, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            long size = 0;
            int read;
            while ((read = await content.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                size += read;
            }

            return (ContentDigest.FromHash(hash.GetHashAndReset()), size);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Creates the container on the first write of this process; replicas racing to create it all
    /// succeed, and a failed attempt is tried again by the next write.
    /// </summary>
    private Task EnsureContainerAsync(CancellationToken cancellationToken)
    {
        var creation = Volatile.Read(ref _containerCreation);
        if (creation is null || creation.IsFaulted || creation.IsCanceled)
        {
            creation = _container.CreateIfNotExistsAsync(cancellationToken: CancellationToken.None);
            Volatile.Write(ref _containerCreation, creation);
        }

        return creation.WaitAsync(cancellationToken);
    }
}
