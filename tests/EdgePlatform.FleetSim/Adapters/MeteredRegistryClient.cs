using EdgePlatform.Agent.Core.Ports;

namespace EdgePlatform.FleetSim.Adapters;

/// <summary>
/// The agent's registry client as a simulated device sees it: each blob download waits for one of
/// the fleet's download slots, arrives no faster than the device's bandwidth, and is counted in
/// the <see cref="FleetRecord"/> (bytes per device and digest, and whole arrivals).
/// </summary>
internal sealed class MeteredRegistryClient(IRegistryClient inner, string deviceId, FleetContext fleet) : IRegistryClient
{
    public async Task<byte[]> GetManifestAsync(string repository, string digest, long maxBytes, CancellationToken cancellationToken)
    {
        var bytes = await Counted(inner.GetManifestAsync(repository, digest, maxBytes, cancellationToken)).ConfigureAwait(false);
        var download = fleet.Record.Download(deviceId, digest);
        download.Add(bytes.Length);
        download.Complete();
        return bytes;
    }

    public Task<byte[]?> GetSignatureAsync(string repository, string manifestDigest, CancellationToken cancellationToken) =>
        Counted(inner.GetSignatureAsync(repository, manifestDigest, cancellationToken));

    public async Task<BlobContent> OpenBlobAsync(string repository, string digest, long offset, CancellationToken cancellationToken)
    {
        await fleet.Downloads.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var content = await Counted(inner.OpenBlobAsync(repository, digest, offset, cancellationToken)).ConfigureAwait(false);
            var stream = new MeteredStream(content.Stream, fleet.Record.Download(deviceId, digest), fleet.Options.BandwidthBytesPerSecond, fleet.TimeProvider, fleet.Downloads);
            return content with { Stream = stream };
        }
        catch
        {
            fleet.Downloads.Release();
            throw;
        }
    }

    /// <summary>A failure to reach the registry is retried by the reconciler; the fleet counts it.</summary>
    private async Task<T> Counted<T>(Task<T> call)
    {
        try
        {
            return await call.ConfigureAwait(false);
        }
        catch (HttpRequestException)
        {
            fleet.Counters.AddRetry();
            throw;
        }
    }

    /// <summary>
    /// A blob's bytes on their way to the model store: counted as they arrive, held back to the
    /// device's bandwidth, and the fleet's download slot given back when the store closes it.
    /// </summary>
    private sealed class MeteredStream(Stream inner, DownloadCounter counter, long bandwidth, TimeProvider timeProvider, SemaphoreSlim slot) : Stream
    {
        private readonly long _started = timeProvider.GetTimestamp();
        private long _received;
        private int _released;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => _received;
            set => throw new NotSupportedException();
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                counter.Complete();
                return 0;
            }

            _received += read;
            counter.Add(read);
            if (bandwidth > 0)
            {
                var ahead = TimeSpan.FromSeconds((double)_received / bandwidth) - timeProvider.GetElapsedTime(_started);
                if (ahead > TimeSpan.FromMilliseconds(1))
                {
                    await Task.Delay(ahead, timeProvider, cancellationToken).ConfigureAwait(false);
                }
            }

            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("a simulated download is read asynchronously");

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override async ValueTask DisposeAsync()
        {
            Release();
            await inner.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                Release();
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        private void Release()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                slot.Release();
            }
        }
    }
}
