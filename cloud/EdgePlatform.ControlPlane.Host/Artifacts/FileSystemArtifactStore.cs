using System.Security.Cryptography;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Host.Artifacts;

/// <summary>
/// Blobs under <c>blobs/sha256/&lt;hex&gt;</c>, written to a temporary file and renamed into
/// place, so a crash never leaves a partial blob under a digest. Shared between replicas only
/// through a shared file system; the scale-out profile uses <see cref="AzureBlobArtifactStore"/>.
/// </summary>
public sealed class FileSystemArtifactStore : IArtifactStore
{
    private const int BufferSize = 81920;

    private readonly string _root;
    private readonly string _uploads;

    public FileSystemArtifactStore(string root)
    {
        _root = Path.Combine(root, "sha256");
        _uploads = Path.Combine(root, "uploads");
        Directory.CreateDirectory(_root);
        Directory.CreateDirectory(_uploads);
    }

    public string PathOf(string digest) => Path.Combine(_root, ContentDigest.Hex(digest));

    public async Task<string> PutAsync(ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        var digest = ContentDigest.Compute(content.Span);
        if (File.Exists(PathOf(digest)))
        {
            return digest;
        }

        var temporary = TemporaryPath();
        try
        {
            await File.WriteAllBytesAsync(temporary, content, cancellationToken).ConfigureAwait(false);
            MoveIntoPlace(temporary, digest);
        }
        finally
        {
            File.Delete(temporary);
        }

        return digest;
    }

    public async Task<(string Digest, long Size)> PutAsync(Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        var temporary = TemporaryPath();
        try
        {
            var (digest, size) = await WriteAsideAsync(content, temporary, cancellationToken).ConfigureAwait(false);
            MoveIntoPlace(temporary, digest);
            return (digest, size);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    public async Task<long> PutAsync(string digest, Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        _ = ContentDigest.Hex(digest);
        var temporary = TemporaryPath();
        try
        {
            var (actual, size) = await WriteAsideAsync(content, temporary, cancellationToken).ConfigureAwait(false);
            if (!string.Equals(actual, digest, StringComparison.Ordinal))
            {
                throw new ArtifactDigestMismatchException(digest, actual, size);
            }

            MoveIntoPlace(temporary, digest);
            return size;
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    public Task<Stream?> OpenReadAsync(string digest, CancellationToken cancellationToken)
    {
        if (!ContentDigest.IsValid(digest))
        {
            return Task.FromResult<Stream?>(null);
        }

        try
        {
            return Task.FromResult<Stream?>(new FileStream(PathOf(digest), FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, useAsync: true));
        }
        catch (FileNotFoundException)
        {
            return Task.FromResult<Stream?>(null);
        }
    }

    public Task<long?> GetSizeAsync(string digest, CancellationToken cancellationToken)
    {
        if (!ContentDigest.IsValid(digest))
        {
            return Task.FromResult<long?>(null);
        }

        var file = new FileInfo(PathOf(digest));
        return Task.FromResult<long?>(file.Exists ? file.Length : null);
    }

    private string TemporaryPath() => Path.Combine(_uploads, Guid.NewGuid().ToString("N"));

    private static async Task<(string Digest, long Size)> WriteAsideAsync(Stream content, string temporary, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long size = 0;
        var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize, useAsync: true);
        await using (file.ConfigureAwait(false))
        {
            var buffer = new byte[BufferSize];
            int read;
            while ((read = await content.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                size += read;
            }
        }

        return (ContentDigest.FromHash(hash.GetHashAndReset()), size);
    }

    /// <summary>
    /// Renames a verified temporary file to its digest. Two writers of the same digest hold the
    /// same bytes, so whichever rename lands last replaces an identical file.
    /// </summary>
    private void MoveIntoPlace(string temporary, string digest)
    {
        var target = PathOf(digest);
        if (!File.Exists(target))
        {
            File.Move(temporary, target, overwrite: true);
        }
    }
}
