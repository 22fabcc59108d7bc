using System.IO.Compression;

namespace EdgePlatform.Training.Data;

/// <summary>
/// Opens a dataset file of any supported format as an <see cref="ITabularReader"/>. The format
/// comes from <see cref="TabularReadOptions.Format"/>, else the file name's extension, else the
/// first bytes; a gzip-compressed file (.gz, or gzip's magic bytes) is decompressed on the fly.
/// </summary>
public static class TabularFormats
{
    private static readonly (string Extension, TabularFormat Format)[] Extensions =
    [
        (".csv", TabularFormat.Csv),
        (".tsv", TabularFormat.Tsv),
        (".tab", TabularFormat.Tsv),
        (".parquet", TabularFormat.Parquet),
        (".arrow", TabularFormat.ArrowFile),
        (".feather", TabularFormat.ArrowFile),
        (".arrows", TabularFormat.ArrowStream),
        (".ipc", TabularFormat.ArrowStream),
        (".arff", TabularFormat.Arff),
        (".jsonl", TabularFormat.JsonLines),
        (".ndjson", TabularFormat.JsonLines),
    ];

    /// <summary>The file extensions recognised, for messages and documentation.</summary>
    public static IReadOnlyList<string> KnownExtensions { get; } = [.. Extensions.Select(e => e.Extension)];

    public static ITabularReader Open(string path, TabularReadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        return Open(stream, path, options);
    }

    /// <summary>Reads <paramref name="stream"/> (disposed with the reader); <paramref name="name"/> is the file name for format detection and messages.</summary>
    public static ITabularReader Open(Stream stream, string name, TabularReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentException.ThrowIfNullOrEmpty(name);
        options ??= new TabularReadOptions();
        options.Validate();
        options = options.WithSource(name);
        try
        {
            return OpenCore(stream, name, options);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>The format named by the file's extension (a trailing .gz is looked through), or null.</summary>
    public static TabularFormat? FormatFromName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
        {
            name = name[..^3];
        }

        foreach (var (extension, format) in Extensions)
        {
            if (name.EndsWith(extension, StringComparison.OrdinalIgnoreCase))
            {
                return format;
            }
        }

        return null;
    }

    private static ITabularReader OpenCore(Stream stream, string name, TabularReadOptions options)
    {
        var peeked = PeekStream.Create(stream, 8);
        var head = peeked.Head;
        if (head.Length >= 2 && head[0] == 0x1F && head[1] == 0x8B)
        {
            peeked = PeekStream.Create(new GZipStream(peeked.Stream, CompressionMode.Decompress), 8);
            head = peeked.Head;
        }

        var format = options.Format ?? FormatFromName(name) ?? FormatFromMagic(head)
            ?? throw DataErrors.File(name, $"cannot tell the format from the name or the first bytes; use one of the extensions {string.Join(" ", KnownExtensions)} (optionally with .gz), or set the format explicitly.");
        if (head.Length == 0)
        {
            throw DataErrors.File(name, "the file is empty.");
        }

        var input = peeked.Stream;
        return format switch
        {
            TabularFormat.Csv => new DelimitedTextReader(input, options, Delimiter(options, ',')),
            TabularFormat.Tsv => new DelimitedTextReader(input, options, Delimiter(options, '\t')),
            TabularFormat.JsonLines => new JsonLinesReader(input, options),
            TabularFormat.Arff => new ArffReader(input, options),
            TabularFormat.Parquet => ParquetTabularReader.Open(Seekable(input), options),
            TabularFormat.ArrowFile => ArrowTabularReader.OpenFile(Seekable(input), options),
            TabularFormat.ArrowStream => ArrowTabularReader.OpenStream(input, options),
            _ => throw new ArgumentOutOfRangeException(nameof(options), format, "Unknown format."),
        };
    }

    private static byte Delimiter(TabularReadOptions options, char formatDefault)
    {
        var delimiter = options.Delimiter ?? formatDefault;
        if (delimiter == options.DecimalSeparator)
        {
            throw new ArgumentException($"The delimiter and the decimal separator are both '{delimiter}'; with a decimal comma use another delimiter, usually ';'.", nameof(options));
        }

        return (byte)delimiter;
    }

    private static TabularFormat? FormatFromMagic(ReadOnlySpan<byte> head) =>
        head.StartsWith("PAR1"u8) ? TabularFormat.Parquet
        : head.StartsWith("ARROW1"u8) ? TabularFormat.ArrowFile
        : head.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFF, 0xFF, 0xFF]) ? TabularFormat.ArrowStream
        : null;

    /// <summary>Parquet and the Arrow file format read their footer first: a stream that cannot seek (gzip, HTTP) is spooled to a temporary file, never to memory.</summary>
    private static Stream Seekable(Stream stream)
    {
        if (stream.CanSeek)
        {
            return stream;
        }

        var spool = new FileStream(Path.GetTempFileName(), FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose);
        try
        {
            stream.CopyTo(spool);
            spool.Position = 0;
        }
        catch
        {
            spool.Dispose();
            throw;
        }
        finally
        {
            stream.Dispose();
        }

        return spool;
    }
}

/// <summary>Reads the first bytes of a stream for format detection and hands back a stream that still starts at byte 0.</summary>
internal sealed class PeekStream : Stream
{
    private readonly Stream _inner;
    private readonly byte[] _head;
    private int _headPosition;

    private PeekStream(Stream inner, byte[] head)
    {
        _inner = inner;
        _head = head;
    }

    public static (Stream Stream, byte[] Head) Create(Stream stream, int count)
    {
        var head = new byte[count];
        var read = stream.ReadAtLeast(head, count, throwOnEndOfStream: false);
        Array.Resize(ref head, read);
        if (stream.CanSeek)
        {
            stream.Seek(-read, SeekOrigin.Current);
            return (stream, head);
        }

        return (new PeekStream(stream, head), head);
    }

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
        if (_headPosition < _head.Length)
        {
            var n = Math.Min(buffer.Length, _head.Length - _headPosition);
            _head.AsSpan(_headPosition, n).CopyTo(buffer);
            _headPosition += n;
            return n;
        }

        return _inner.Read(buffer);
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
