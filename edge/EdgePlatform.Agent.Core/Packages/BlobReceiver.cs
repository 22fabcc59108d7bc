using System.Security.Cryptography;
using EdgePlatform.Contracts;
using EdgePlatform.Security;

namespace EdgePlatform.Agent.Core.Packages;

/// <summary>
/// The checks every model store applies to a blob as it arrives: never more than one byte past
/// the signed size is read, and the content is admitted only when its size and SHA-256 digest
/// match the descriptor. Stores differ only in where the bytes go.
/// </summary>
public static class BlobReceiver
{
    private const int BufferBytes = 81920;

    /// <summary>
    /// Copies <paramref name="source"/> into <paramref name="target"/> and <paramref name="hash"/>
    /// from <paramref name="received"/> bytes already held; returns the bytes held afterwards.
    /// </summary>
    public static async Task<long> ReceiveAsync(Stream source, Stream target, IncrementalHash hash, OciDescriptor descriptor, long received, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(hash);
        ArgumentNullException.ThrowIfNull(descriptor);
        var buffer = new byte[BufferBytes];
        while (true)
        {
            // Never read more than one byte past the signed size: endless data is cut off.
            var want = (int)Math.Min(buffer.Length, descriptor.Size + 1 - received);
            if (want <= 0)
            {
                break;
            }

            var read = await source.ReadAsync(buffer.AsMemory(0, want), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            received += read;
            hash.AppendData(buffer, 0, read);
            await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
        }

        return received;
    }

    /// <summary>The reason the received content may not be stored as <paramref name="descriptor"/>, or null when it may.</summary>
    public static PackageRejectedException? Refusal(OciDescriptor descriptor, long received, IncrementalHash hash)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentNullException.ThrowIfNull(hash);
        if (received != descriptor.Size)
        {
            return new PackageRejectedException(
                VerificationChecks.LayerSize,
                received > descriptor.Size
                    ? $"blob {descriptor.Digest} ({descriptor.MediaType}) is larger than its signed size of {descriptor.Size} bytes"
                    : $"blob {descriptor.Digest} ({descriptor.MediaType}) has {received} bytes, signed size is {descriptor.Size}");
        }

        var actual = ContentDigest.FromHash(hash.GetHashAndReset());
        return string.Equals(actual, descriptor.Digest, StringComparison.Ordinal)
            ? null
            : new PackageRejectedException(VerificationChecks.LayerDigest, $"blob ({descriptor.MediaType}) should have digest {descriptor.Digest} but has {actual}");
    }
}
