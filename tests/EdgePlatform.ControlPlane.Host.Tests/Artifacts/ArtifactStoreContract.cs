using System.Security.Cryptography;
using Azure.Storage.Blobs;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Artifacts;
using EdgePlatform.ControlPlane.Host.Tests.Datasets;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Host.Tests.Artifacts;

/// <summary>
/// What every <see cref="IArtifactStore"/> adapter promises. <see cref="OpenStore"/> gives a new
/// instance over the same storage each call, as two replicas would hold.
/// </summary>
public abstract class ArtifactStoreContract : IAsyncLifetime
{
    protected abstract IArtifactStore OpenStore();

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task PutAsync_Bytes_ReadBackUnderTheirDigest()
    {
        var store = OpenStore();
        var content = RandomNumberGenerator.GetBytes(1000);

        var digest = await store.PutAsync(content, CancellationToken.None);

        Assert.Equal(ContentDigest.Compute(content), digest);
        Assert.Equal(content, await ReadAsync(store, digest));
        Assert.Equal(1000, await store.GetSizeAsync(digest, CancellationToken.None));
    }

    [Fact]
    public async Task PutAsync_UnseekableStream_ReturnsDigestAndSize()
    {
        var store = OpenStore();
        var content = RandomNumberGenerator.GetBytes(5 * 1024 * 1024 + 17);

        var (digest, size) = await store.PutAsync(new OneWayStream(content), CancellationToken.None);

        Assert.Equal(ContentDigest.Compute(content), digest);
        Assert.Equal(content.Length, size);
        Assert.Equal(content, await ReadAsync(store, digest));
    }

    [Fact]
    public async Task PutAsync_NamedDigestMatches_StoresIt()
    {
        var store = OpenStore();
        var content = RandomNumberGenerator.GetBytes(9 * 1024 * 1024);
        var digest = ContentDigest.Compute(content);

        var size = await store.PutAsync(digest, new OneWayStream(content), CancellationToken.None);

        Assert.Equal(content.Length, size);
        Assert.Equal(content.Length, await store.GetSizeAsync(digest, CancellationToken.None));
        Assert.Equal(content, await ReadAsync(store, digest));
    }

    [Fact]
    public async Task PutAsync_EmptyContent_StoresAnEmptyBlob()
    {
        var store = OpenStore();
        var digest = ContentDigest.Compute([]);

        Assert.Equal(0, await store.PutAsync(digest, new MemoryStream(), CancellationToken.None));

        Assert.Equal(0, await store.GetSizeAsync(digest, CancellationToken.None));
    }

    [Fact]
    public async Task PutAsync_ContentHashesToAnotherDigest_RefusedAndLeavesNothing()
    {
        var store = OpenStore();
        var claimed = ContentDigest.Compute(RandomNumberGenerator.GetBytes(64));
        var content = RandomNumberGenerator.GetBytes(64);

        var refused = await Assert.ThrowsAsync<ArtifactDigestMismatchException>(
            () => store.PutAsync(claimed, new MemoryStream(content), CancellationToken.None));

        Assert.Equal(ContentDigest.Compute(content), refused.Actual);
        Assert.Null(await store.GetSizeAsync(claimed, CancellationToken.None));
        Assert.Null(await store.OpenReadAsync(claimed, CancellationToken.None));
        Assert.Null(await store.GetSizeAsync(refused.Actual, CancellationToken.None));
    }

    [Fact]
    public async Task PutAsync_WrongContentForAStoredDigest_RefusedAndKeepsTheBlob()
    {
        var store = OpenStore();
        var content = RandomNumberGenerator.GetBytes(64);
        var digest = await store.PutAsync(content, CancellationToken.None);

        await Assert.ThrowsAsync<ArtifactDigestMismatchException>(
            () => store.PutAsync(digest, new MemoryStream(RandomNumberGenerator.GetBytes(64)), CancellationToken.None));

        Assert.Equal(content, await ReadAsync(store, digest));
    }

    [Fact]
    public async Task PutAsync_SameDigestFromTwoReplicasAtOnce_BothSucceedWithOneBlob()
    {
        var first = OpenStore();
        var second = OpenStore();
        var content = RandomNumberGenerator.GetBytes(6 * 1024 * 1024);
        var digest = ContentDigest.Compute(content);

        var sizes = await Task.WhenAll(
            Enumerable.Range(0, 4).Select(i => Task.Run(() => (i % 2 == 0 ? first : second).PutAsync(digest, new OneWayStream(content), CancellationToken.None))));

        Assert.All(sizes, size => Assert.Equal(content.Length, size));
        Assert.Equal(content, await ReadAsync(second, digest));
        Assert.Equal(content, await ReadAsync(first, digest));
    }

    [Fact]
    public async Task PutAsync_SameContentTwice_ReturnsTheSameDigest()
    {
        var store = OpenStore();
        var content = RandomNumberGenerator.GetBytes(100);

        var once = await store.PutAsync(content, CancellationToken.None);
        var twice = await store.PutAsync(content, CancellationToken.None);

        Assert.Equal(once, twice);
        Assert.Equal(100, await store.GetSizeAsync(once, CancellationToken.None));
    }

    [Fact]
    public async Task OpenReadAsync_Stored_SeeksForRangeRequests()
    {
        var store = OpenStore();
        var content = RandomNumberGenerator.GetBytes(6 * 1024 * 1024);
        var digest = await store.PutAsync(content, CancellationToken.None);

        var stream = await store.OpenReadAsync(digest, CancellationToken.None);

        Assert.NotNull(stream);
        await using (stream)
        {
            Assert.True(stream.CanSeek);
            Assert.Equal(content.Length, stream.Length);
            stream.Position = 5 * 1024 * 1024;
            var tail = new byte[1024];
            await stream.ReadExactlyAsync(tail);
            Assert.Equal(content.AsSpan(5 * 1024 * 1024, 1024).ToArray(), tail);
        }
    }

    [Fact]
    public async Task OpenReadAsync_WrittenByAnotherReplica_Found()
    {
        var content = RandomNumberGenerator.GetBytes(300);
        var digest = await OpenStore().PutAsync(content, CancellationToken.None);

        Assert.Equal(content, await ReadAsync(OpenStore(), digest));
    }

    [Theory]
    [InlineData("sha256:0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("not-a-digest")]
    [InlineData("sha256:../../etc/passwd")]
    public async Task OpenReadAsync_NotStored_ReturnsNull(string digest)
    {
        var store = OpenStore();

        Assert.Null(await store.OpenReadAsync(digest, CancellationToken.None));
        Assert.Null(await store.GetSizeAsync(digest, CancellationToken.None));
    }

    private static async Task<byte[]> ReadAsync(IArtifactStore store, string digest)
    {
        var stream = await store.OpenReadAsync(digest, CancellationToken.None);
        Assert.NotNull(stream);
        await using (stream)
        {
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy);
            return copy.ToArray();
        }
    }

    /// <summary>A request body: read once, front to back, in small pieces, length unknown.</summary>
    private sealed class OneWayStream(byte[] content) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(Math.Min(count, 65536), content.Length - _position);
            content.AsSpan(_position, n).CopyTo(buffer.AsSpan(offset));
            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

public sealed class FileSystemArtifactStoreTests : ArtifactStoreContract, IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("edgeplatform-artifacts-");

    protected override IArtifactStore OpenStore() => new FileSystemArtifactStore(_root.FullName);

    [Fact]
    public async Task PutAsync_Refused_LeavesNoStagingFile()
    {
        var store = OpenStore();

        await Assert.ThrowsAsync<ArtifactDigestMismatchException>(
            () => store.PutAsync(ContentDigest.Compute([1]), new MemoryStream([2]), CancellationToken.None));

        Assert.Empty(Directory.EnumerateFiles(_root.FullName, "*", SearchOption.AllDirectories));
    }

    public void Dispose() => _root.Delete(recursive: true);
}

[Trait("Category", "Integration")]
public sealed class AzureBlobArtifactStoreTests : ArtifactStoreContract
{
    private readonly BlobContainerClient _container = new BlobServiceClient(TestServices.Require(TestServices.Azurite, "Azurite"))
        .GetBlobContainerClient("artifacts-" + Guid.NewGuid().ToString("N"));

    protected override IArtifactStore OpenStore() => new AzureBlobArtifactStore(
        new BlobServiceClient(TestServices.Require(TestServices.Azurite, "Azurite")).GetBlobContainerClient(_container.Name));

    [Fact]
    public async Task PutAsync_Refused_CommitsNoBlob()
    {
        var store = OpenStore();

        await Assert.ThrowsAsync<ArtifactDigestMismatchException>(
            () => store.PutAsync(ContentDigest.Compute([1]), new MemoryStream([2]), CancellationToken.None));

        var listed = new List<string>();
        await foreach (var blob in _container.GetBlobsAsync())
        {
            listed.Add(blob.Name);
        }

        Assert.Empty(listed);
    }

    public override async Task DisposeAsync() => await _container.DeleteIfExistsAsync();
}
