using System.Diagnostics.Metrics;

namespace EdgePlatform.ControlPlane.Host.Registry;

/// <summary>
/// What the registry sends (meter <see cref="MeterName"/>, at <c>/metrics</c>): bytes of manifests
/// and blobs as they are read for a response, so a fleet's pulls can be checked against devices
/// times package size, and a device that fetched a digest twice shows as excess bytes.
/// </summary>
public sealed class RegistryMetrics : IDisposable
{
    public const string MeterName = "EdgePlatform.Registry";
    public const string Manifest = "manifest";
    public const string Blob = "blob";

    private readonly Meter _meter;
    private readonly Counter<long> _bytes;
    private readonly Counter<long> _responses;

    public RegistryMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _meter = meterFactory.Create(MeterName);
        _bytes = _meter.CreateCounter<long>("edgeplatform.registry.served", "By", "Bytes of manifests and blobs the registry sent, by kind (manifest, blob) and repository");
        _responses = _meter.CreateCounter<long>("edgeplatform.registry.responses", "{response}", "Manifest and blob responses with content (GET, whole or ranged), by kind and repository");
    }

    /// <summary>
    /// Counts <paramref name="content"/> as it is read for one response of <paramref name="kind"/>
    /// from <paramref name="repository"/> (a name the request's registry token was scoped to).
    /// </summary>
    public Stream Count(Stream content, string kind, string repository)
    {
        KeyValuePair<string, object?>[] tags = [new("kind", kind), new("repository", repository)];
        _responses.Add(1, tags);
        return new CountingStream(content, this, tags);
    }

    public void Dispose() => _meter.Dispose();

    /// <summary>Read-through wrapper that adds every byte read to the counter; seeking (for ranges) passes through.</summary>
    private sealed class CountingStream(Stream inner, RegistryMetrics metrics, KeyValuePair<string, object?>[] tags) : Stream
    {
        public override bool CanRead => inner.CanRead;

        public override bool CanSeek => inner.CanSeek;

        public override bool CanWrite => false;

        public override long Length => inner.Length;

        public override long Position
        {
            get => inner.Position;
            set => inner.Position = value;
        }

        public override int Read(byte[] buffer, int offset, int count) => Counted(inner.Read(buffer, offset, count));

        public override int Read(Span<byte> buffer) => Counted(inner.Read(buffer));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Counted(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

        public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Counted(await inner.ReadAsync(buffer.AsMemory(offset, count), cancellationToken).ConfigureAwait(false));

        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        private int Counted(int read)
        {
            if (read > 0)
            {
                metrics._bytes.Add(read, tags);
            }

            return read;
        }
    }
}
