using System.Security.Cryptography;
using EdgePlatform.Contracts;
using EdgePlatform.Security;

namespace EdgePlatform.Agent.Core.Packages;

/// <summary>
/// Content-addressed blobs on the device (<c>models/blobs/sha256/&lt;hex&gt;</c>). A blob is
/// written to a temporary file while its digest is computed, cut off at its signed size, and
/// renamed into place only when digest and size match; a digest already present is never
/// downloaded again.
/// </summary>
public sealed class LocalModelStore
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
    /// Copies <paramref name="source"/> into the store as <paramref name="descriptor"/>, reading
    /// at most its size plus one byte, and refuses content whose size or digest differ.
    /// </summary>
    public async Task AddAsync(OciDescriptor descriptor, Stream source, CancellationToken cancellationToken)
    {
        var temporary = Path.Combine(_incoming, Guid.NewGuid().ToString("N"));
        try
        {
            long total = 0;
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var target = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true);
            await using (target.ConfigureAwait(false))
            {
                var buffer = new byte[81920];
                while (true)
                {
                    // Never read more than one byte past the signed size: endless data is cut off.
                    var want = (int)Math.Min(buffer.Length, descriptor.Size + 1 - total);
                    if (want <= 0)
                    {
                        break;
                    }

                    var read = await source.ReadAsync(buffer.AsMemory(0, want), cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                    {
                        break;
                    }

                    total += read;
                    hash.AppendData(buffer, 0, read);
                    await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                }
            }

            if (total != descriptor.Size)
            {
                throw new PackageRejectedException(
                    VerificationChecks.LayerSize,
                    total > descriptor.Size
                        ? $"blob {descriptor.Digest} ({descriptor.MediaType}) is larger than its signed size of {descriptor.Size} bytes"
                        : $"blob {descriptor.Digest} ({descriptor.MediaType}) has {total} bytes, signed size is {descriptor.Size}");
            }

            var actual = ContentDigest.FromHash(hash.GetHashAndReset());
            if (!string.Equals(actual, descriptor.Digest, StringComparison.Ordinal))
            {
                throw new PackageRejectedException(
                    VerificationChecks.LayerDigest,
                    $"blob ({descriptor.MediaType}) should have digest {descriptor.Digest} but has {actual}");
            }

            File.Move(temporary, PathOf(descriptor.Digest), overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
