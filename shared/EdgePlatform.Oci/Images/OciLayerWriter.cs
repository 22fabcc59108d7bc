using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using EdgePlatform.Contracts;

namespace EdgePlatform.Oci.Images;

/// <summary>One entry of a layer: a directory, a file (its content opened when written) or a symbolic link.</summary>
public sealed record OciLayerEntry(string Path, UnixFileMode Mode, TarEntryType Kind, Func<Stream>? OpenContent = null, string? LinkTarget = null)
{
    private const UnixFileMode DirectoryMode = (UnixFileMode)0x1ED; // 0755
    private const UnixFileMode FileMode = (UnixFileMode)0x1A4; // 0644

    public static OciLayerEntry Directory(string path, UnixFileMode mode = DirectoryMode) => new(path, mode, TarEntryType.Directory);

    /// <summary>A file whose content <paramref name="open"/> returns as a seekable stream (the tar header needs its length first).</summary>
    public static OciLayerEntry File(string path, Func<Stream> open, UnixFileMode mode = FileMode) => new(path, mode, TarEntryType.RegularFile, open);

    public static OciLayerEntry File(string path, byte[] content, UnixFileMode mode = FileMode) => File(path, () => new MemoryStream(content, writable: false), mode);
}

/// <summary>A layer as written: its descriptor (compressed) and diff id (the digest of the uncompressed tar).</summary>
public sealed record OciLayer(OciDescriptor Descriptor, string DiffId);

/// <summary>
/// Writes reproducible image layers: entries sorted by path, every time the same fixed instant,
/// owner and group 0, modes as given, gzip with no name or time in its header. The same files give
/// the same digest on any run.
/// </summary>
public static class OciLayerWriter
{
    /// <summary>The instant every entry carries: what changed is in the content, never in the clock.</summary>
    public static readonly DateTimeOffset FixedTime = DateTimeOffset.UnixEpoch;

    /// <summary>Writes <paramref name="entries"/> as a gzip tar to <paramref name="destination"/> (left open).</summary>
    public static async Task<OciLayer> WriteAsync(IEnumerable<OciLayerEntry> entries, Stream destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(destination);
        using var compressed = new HashingStream(destination);
        using var uncompressed = new HashingStream(new GZipStream(compressed, CompressionLevel.Optimal, leaveOpen: true));
        var tar = new TarWriter(uncompressed, TarEntryFormat.Gnu, leaveOpen: true);
        await using (tar.ConfigureAwait(false))
        {
            foreach (var entry in entries.OrderBy(entry => entry.Path, StringComparer.Ordinal))
            {
                await WriteEntryAsync(tar, entry, cancellationToken).ConfigureAwait(false);
            }
        }

        // Closing the gzip stream writes its trailer through the compressed hash.
        await uncompressed.CloseInnerAsync().ConfigureAwait(false);
        return new OciLayer(
            new OciDescriptor(MediaTypes.OciImageLayerGzip, ContentDigest.FromHash(compressed.Hash), compressed.Length),
            ContentDigest.FromHash(uncompressed.Hash));
    }

    /// <summary>
    /// Every directory, file and symbolic link under <paramref name="root"/>, named by its path
    /// relative to it (the root itself is the layer's <c>/</c>), with its mode on disk.
    /// </summary>
    public static IReadOnlyList<OciLayerEntry> EntriesOf(string root)
    {
        var rootInfo = new DirectoryInfo(root);
        if (!rootInfo.Exists)
        {
            throw new DirectoryNotFoundException($"'{root}' does not exist");
        }

        var entries = new List<OciLayerEntry>();
        foreach (var item in rootInfo.EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            var path = System.IO.Path.GetRelativePath(rootInfo.FullName, item.FullName).Replace('\\', '/');
            var mode = item.UnixFileMode;
            if (item.LinkTarget is { } target)
            {
                entries.Add(new OciLayerEntry(path, mode, TarEntryType.SymbolicLink, LinkTarget: target));
            }
            else if (item is DirectoryInfo)
            {
                entries.Add(OciLayerEntry.Directory(path, mode));
            }
            else
            {
                var full = item.FullName;
                entries.Add(OciLayerEntry.File(path, () => System.IO.File.OpenRead(full), mode));
            }
        }

        return entries;
    }

    private static async Task WriteEntryAsync(TarWriter tar, OciLayerEntry entry, CancellationToken cancellationToken)
    {
        var name = entry.Kind == TarEntryType.Directory ? entry.Path.TrimEnd('/') + "/" : entry.Path;
        var tarEntry = new GnuTarEntry(entry.Kind, name)
        {
            Mode = entry.Mode,
            ModificationTime = FixedTime,
            AccessTime = FixedTime,
            ChangeTime = FixedTime,
            Uid = 0,
            Gid = 0,
            UserName = string.Empty,
            GroupName = string.Empty,
        };
        if (entry.Kind == TarEntryType.SymbolicLink)
        {
            tarEntry.LinkName = entry.LinkTarget ?? throw new ArgumentException($"symbolic link '{entry.Path}' has no target", nameof(entry));
            await tar.WriteEntryAsync(tarEntry, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (entry.Kind != TarEntryType.RegularFile)
        {
            await tar.WriteEntryAsync(tarEntry, cancellationToken).ConfigureAwait(false);
            return;
        }

        var content = entry.OpenContent?.Invoke() ?? throw new ArgumentException($"file '{entry.Path}' has no content", nameof(entry));
        await using (content.ConfigureAwait(false))
        {
            tarEntry.DataStream = content;
            await tar.WriteEntryAsync(tarEntry, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Passes writes through, counting and hashing them.</summary>
    private sealed class HashingStream(Stream inner) : Stream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private byte[]? _final;

        public byte[] Hash => _final ??= _hash.GetHashAndReset();

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => Written;

        public override long Position
        {
            get => Written;
            set => throw new NotSupportedException();
        }

        private long Written { get; set; }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _hash.AppendData(buffer);
            Written += buffer.Length;
            inner.Write(buffer);
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _hash.AppendData(buffer.Span);
            Written += buffer.Length;
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public ValueTask CloseInnerAsync() => inner.DisposeAsync();

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _hash.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
