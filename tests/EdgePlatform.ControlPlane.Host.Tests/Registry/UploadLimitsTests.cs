using System.Net;
using System.Net.Http.Headers;
using EdgePlatform.ControlPlane.Host.Hosting;
using static EdgePlatform.ControlPlane.Host.Tests.Registry.BlobUploadApiTests;

namespace EdgePlatform.ControlPlane.Host.Tests.Registry;

/// <summary>
/// The registry's upload limits (<c>Registry:MaxOpenUploadsPerSubject</c>,
/// <c>Registry:MaxBlobBytes</c>, <c>Registry:MaxUploadBytesInProgress</c>): each refused in the
/// distribution spec's error format, counted, and the server serving on.
/// </summary>
public sealed class UploadLimitsTests
{
    private const string Repository = "tests/limits";

    [Fact]
    public async Task Start_MoreUploadsThanMaxOpenUploadsPerSubject_Returns429TooManyRequestsUntilOneEnds()
    {
        await using var server = ControlPlaneFactory.With(new Dictionary<string, string> { ["Registry:MaxOpenUploadsPerSubject"] = "2" });
        using var refusals = new LimitRefusals(server.Services);
        using var client = server.CreateClient();
        var first = await StartAsync(client, Repository);
        await StartAsync(client, Repository);

        using var refused = await client.PostAsync(Url($"/v2/{Repository}/blobs/uploads/"), null);

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("TOOMANYREQUESTS", await ErrorCodeAsync(refused));
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Equal(1, refusals[LimitMetrics.UploadSessions]);
        (await client.DeleteAsync(Url(first))).Dispose();
        await StartAsync(client, Repository);
    }

    [Fact]
    public async Task Patch_StreamedPastMaxBlobBytes_Returns413SizeInvalidCountedAndTheServerServesOn()
    {
        await using var server = ControlPlaneFactory.With(new Dictionary<string, string> { ["Registry:MaxBlobBytes"] = "65536" });
        using var refusals = new LimitRefusals(server.Services);
        using var client = server.CreateClient();
        var location = await StartAsync(client, Repository);
        var body = new CountingStream(1024 * 1024);
        using var content = new StreamContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");

        using var response = await client.PatchAsync(Url(location), content);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("SIZE_INVALID", await ErrorCodeAsync(response));
        Assert.Equal(1, refusals[LimitMetrics.BlobSize]);

        // The refusal came while the body was read, not after all of it was taken in.
        Assert.True(body.Served < 1024 * 1024, $"the server read {body.Served} bytes of a body refused at 65,536");
        using var next = await PatchAsync(client, await StartAsync(client, Repository), new byte[1000]);
        Assert.Equal(HttpStatusCode.Accepted, next.StatusCode);
    }

    [Fact]
    public async Task Patch_PastMaxUploadBytesInProgress_Returns429AndTheUploadResumesOnceAnotherEnds()
    {
        await using var server = ControlPlaneFactory.With(new Dictionary<string, string>
        {
            ["Registry:MaxBlobBytes"] = "65536",
            ["Registry:MaxUploadBytesInProgress"] = "10000",
        });
        using var refusals = new LimitRefusals(server.Services);
        using var client = server.CreateClient();
        var holding = await StartAsync(client, Repository);
        var waiting = await StartAsync(client, Repository);
        (await PatchAsync(client, holding, new byte[6000])).EnsureSuccessStatusCode().Dispose();

        using var refused = await PatchAsync(client, waiting, new byte[5000]);

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("TOOMANYREQUESTS", await ErrorCodeAsync(refused));
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Equal("0-0", Assert.Single(refused.Headers.GetValues("Range")));
        Assert.Equal(1, refusals[LimitMetrics.UploadDisk]);
        (await client.DeleteAsync(Url(holding))).Dispose();
        using var resumed = await PatchAsync(client, waiting, new byte[5000]);
        Assert.Equal(HttpStatusCode.Accepted, resumed.StatusCode);
        Assert.Equal("0-4999", Assert.Single(resumed.Headers.GetValues("Range")));
    }

    private static async Task<HttpResponseMessage> PatchAsync(HttpClient client, string location, byte[] chunk)
    {
        using var body = Octets(chunk);
        return await client.PatchAsync(Url(location), body);
    }

    /// <summary>A body of <paramref name="length"/> zero bytes of unknown length that records how much of it was read.</summary>
    private sealed class CountingStream(long length) : Stream
    {
        private long _served;

        public long Served => Interlocked.Read(ref _served);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var read = (int)Math.Min(Math.Min(count, 8192), length - _served);
            Array.Clear(buffer, offset, read);
            Interlocked.Add(ref _served, read);
            return read;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
