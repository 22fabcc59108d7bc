using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Host.Artifacts;

/// <summary>
/// Blobs under <c>blobs/sha256/&lt;hex&gt;</c>, written to a temporary file and renamed into
/// place, so a crash never leaves a partial blob under a digest.
/// </summary>
public sealed class FileSystemArtifactStore : IArtifactStore
{
    private readonly string _root;

    public FileSystemArtifactStore(string root)
    {
        _root = Path.Combine(root, "sha256");
        Directory.CreateDirectory(_root);
        Directory.CreateDirectory(Path.Combine(root, "uploads"));
    }

    public string PathOf(string digest) => Path.Combine(_root, ContentDigest.Hex(digest));

    public async Task<string> PutAsync(ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        var digest = ContentDigest.Compute(content.Span);
        var target = PathOf(digest);
        if (File.Exists(target))
        {
            return digest;
        }

        var temporary = Path.Combine(Path.GetDirectoryName(_root)!, "uploads", Guid.NewGuid().ToString("N"));
        await File.WriteAllBytesAsync(temporary, content.ToArray(), cancellationToken).ConfigureAwait(false);
        File.Move(temporary, target, overwrite: true);
        return digest;
    }

    public async Task<(string Digest, long Size)> PutAsync(Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        var temporary = Path.Combine(Path.GetDirectoryName(_root)!, "uploads", Guid.NewGuid().ToString("N"));
        try
        {
            using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
            long size = 0;
            var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true);
            await using (file.ConfigureAwait(false))
            {
                var buffer = new byte[81920];
                int read;
                while ((read = await content.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    size += read;
                }
            }

            var digest = ContentDigest.Sha256Prefix + Convert.ToHexStringLower(hash.GetHashAndReset());
            var target = PathOf(digest);
            if (File.Exists(target))
            {
                File.Delete(temporary);
            }
            else
            {
                File.Move(temporary, target, overwrite: true);
            }

            return (digest, size);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    public Task<Stream?> OpenReadAsync(string digest, CancellationToken cancellationToken)
    {
        if (!ContentDigest.IsValid(digest))
        {
            return Task.FromResult<Stream?>(null);
        }

        var path = PathOf(digest);
        Stream? stream = File.Exists(path)
            ? new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, useAsync: true)
            : null;
        return Task.FromResult(stream);
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
}
