using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Host.Tests.Registry;

public sealed class BlobUploadApiTests(RegistryServerFactory server) : IClassFixture<RegistryServerFactory>
{
    private const string Repository = "tests/uploads";

    [Fact]
    public async Task PostUpload_WithoutDigest_Returns202WithLocationRangeAndUuid()
    {
        using var client = server.CreateClient();

        using var response = await client.PostAsync(Url($"/v2/{Repository}/blobs/uploads/"), null);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var uuid = Assert.Single(response.Headers.GetValues("Docker-Upload-UUID"));
        Assert.Equal($"/v2/{Repository}/blobs/uploads/{uuid}", response.Headers.Location?.OriginalString);
        Assert.Equal("0-0", Assert.Single(response.Headers.GetValues("Range")));
    }

    [Fact]
    public async Task PatchThenPut_ChunksInOrder_StoresTheBlobUnderItsDigest()
    {
        using var client = server.CreateClient();
        var content = RandomNumberGenerator.GetBytes(3000);
        var digest = ContentDigest.Compute(content);
        var location = await StartAsync(client);

        using (var first = await PatchAsync(client, location, content[..1000], "0-999"))
        {
            Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
            Assert.Equal("0-999", Assert.Single(first.Headers.GetValues("Range")));
        }

        using (var second = await PatchAsync(client, location, content[1000..2500], "1000-2499"))
        {
            Assert.Equal("0-2499", Assert.Single(second.Headers.GetValues("Range")));
        }

        using var put = await PutAsync(client, $"{location}?digest={digest}", content[2500..]);

        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        Assert.Equal(digest, Assert.Single(put.Headers.GetValues("Docker-Content-Digest")));
        Assert.Equal($"/v2/{Repository}/blobs/{digest}", put.Headers.Location?.OriginalString);
        Assert.Equal(content, await client.GetByteArrayAsync(Url($"/v2/{Repository}/blobs/{digest}")));
        Assert.Equal(content, await File.ReadAllBytesAsync(Path.Combine(server.DataDirectory, "blobs", "sha256", ContentDigest.Hex(digest))));
    }

    [Fact]
    public async Task Patch_ChunkWrittenToAFileUnderUploads_NotHeldInMemory()
    {
        using var client = server.CreateClient();
        var location = await StartAsync(client);
        var uuid = location[(location.LastIndexOf('/') + 1)..];

        using var response = await PatchAsync(client, location, new byte[1234], "0-1233");

        var file = Assert.Single(Directory.GetFiles(server.UploadsDirectory, $"*{uuid}"));
        Assert.Equal(1234, new FileInfo(file).Length);
    }

    [Fact]
    public async Task Patch_ContentRangeNotAtTheCurrentSize_Returns416AndTheUploadCanResume()
    {
        using var client = server.CreateClient();
        var content = RandomNumberGenerator.GetBytes(200);
        var location = await StartAsync(client);
        (await PatchAsync(client, location, content[..100], "0-99")).Dispose();

        using var gap = await PatchAsync(client, location, content[150..], "150-199");
        using var overlap = await PatchAsync(client, location, content[50..], "50-199");

        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, gap.StatusCode);
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, overlap.StatusCode);
        Assert.Equal("0-99", Assert.Single(gap.Headers.GetValues("Range")));
        Assert.Equal("BLOB_UPLOAD_INVALID", await ErrorCodeAsync(gap));
        using var resumed = await PatchAsync(client, location, content[100..], "100-199");
        Assert.Equal(HttpStatusCode.Accepted, resumed.StatusCode);
        using var put = await PutAsync(client, $"{location}?digest={ContentDigest.Compute(content)}", []);
        Assert.Equal(HttpStatusCode.Created, put.StatusCode);
    }

    [Fact]
    public async Task Put_WrongDigest_Returns400DigestInvalidAndDiscardsTheUpload()
    {
        using var client = server.CreateClient();
        var content = RandomNumberGenerator.GetBytes(100);
        var claimed = ContentDigest.Compute(RandomNumberGenerator.GetBytes(100));
        var location = await StartAsync(client);

        using var put = await PutAsync(client, $"{location}?digest={claimed}", content);

        Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
        Assert.Equal("DIGEST_INVALID", await ErrorCodeAsync(put));
        using var status = await client.GetAsync(Url(location));
        Assert.Equal(HttpStatusCode.NotFound, status.StatusCode);
        Assert.Equal("BLOB_UPLOAD_UNKNOWN", await ErrorCodeAsync(status));
        using var claimedBlob = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, Url($"/v2/{Repository}/blobs/{claimed}")));
        Assert.Equal(HttpStatusCode.NotFound, claimedBlob.StatusCode);
        Assert.Empty(Directory.GetFiles(server.UploadsDirectory, $"*{location[(location.LastIndexOf('/') + 1)..]}"));
    }

    [Fact]
    public async Task Put_MalformedDigest_Returns400DigestInvalid()
    {
        using var client = server.CreateClient();
        var location = await StartAsync(client);

        using var put = await PutAsync(client, $"{location}?digest=md5:abc", [1, 2, 3]);

        Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
        Assert.Equal("DIGEST_INVALID", await ErrorCodeAsync(put));
    }

    [Fact]
    public async Task PostUpload_WithDigestAndBody_StoresTheBlobInOneRequest()
    {
        using var client = server.CreateClient();
        var content = RandomNumberGenerator.GetBytes(500);
        var digest = ContentDigest.Compute(content);

        using var response = await client.PostAsync(Url($"/v2/{Repository}/blobs/uploads/?digest={digest}"), Octets(content));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(digest, Assert.Single(response.Headers.GetValues("Docker-Content-Digest")));
        Assert.Equal(content, await client.GetByteArrayAsync(Url($"/v2/{Repository}/blobs/{digest}")));
    }

    [Fact]
    public async Task Patch_DeclaredLengthOverTheLimit_Returns413SizeInvalidAndDiscardsTheUpload()
    {
        using var client = server.CreateClient();
        var location = await StartAsync(client);
        (await PatchAsync(client, location, new byte[4000], "0-3999")).Dispose();

        using var response = await PatchAsync(client, location, new byte[200], "4000-4199");

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("SIZE_INVALID", await ErrorCodeAsync(response));
        using var status = await client.GetAsync(Url(location));
        Assert.Equal(HttpStatusCode.NotFound, status.StatusCode);
    }

    [Fact]
    public async Task Patch_StreamedWithoutLengthOverTheLimit_Returns413SizeInvalid()
    {
        using var client = server.CreateClient();
        var location = await StartAsync(client);
        using var body = new StreamContent(new UnknownLengthStream(new byte[RegistryServerFactory.MaxBlobBytes + 1]));
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");

        using var response = await client.PatchAsync(Url(location), body);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("SIZE_INVALID", await ErrorCodeAsync(response));
    }

    [Fact]
    public async Task GetUpload_InProgress_Returns204WithTheRangeReceived()
    {
        using var client = server.CreateClient();
        var location = await StartAsync(client);
        (await PatchAsync(client, location, new byte[10], "0-9")).Dispose();

        using var response = await client.GetAsync(Url(location));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("0-9", Assert.Single(response.Headers.GetValues("Range")));
        Assert.Equal(location, response.Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task DeleteUpload_InProgress_CancelsItAndRemovesItsFile()
    {
        using var client = server.CreateClient();
        var location = await StartAsync(client);
        var uuid = location[(location.LastIndexOf('/') + 1)..];
        (await PatchAsync(client, location, new byte[10], "0-9")).Dispose();

        using var response = await client.DeleteAsync(Url(location));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        using var patch = await PatchAsync(client, location, new byte[10], "10-19");
        Assert.Equal(HttpStatusCode.NotFound, patch.StatusCode);
        Assert.Equal("BLOB_UPLOAD_UNKNOWN", await ErrorCodeAsync(patch));
        Assert.Empty(Directory.GetFiles(server.UploadsDirectory, $"*{uuid}"));
    }

    [Fact]
    public async Task Patch_UploadOfAnotherRepository_Returns404BlobUploadUnknown()
    {
        using var client = server.CreateClient();
        var location = await StartAsync(client);
        var uuid = location[(location.LastIndexOf('/') + 1)..];

        using var response = await PatchAsync(client, $"/v2/tests/other/blobs/uploads/{uuid}", new byte[10], "0-9");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("BLOB_UPLOAD_UNKNOWN", await ErrorCodeAsync(response));
    }

    [Fact]
    public async Task PostUpload_InvalidRepositoryName_Returns400NameInvalid()
    {
        using var client = server.CreateClient();

        using var response = await client.PostAsync(Url("/v2/Tests/UPPER/blobs/uploads/"), null);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("NAME_INVALID", await ErrorCodeAsync(response));
    }

    [Fact]
    public async Task HeadBlob_Stored_Returns200WithLengthAndDigest()
    {
        using var client = server.CreateClient();
        var content = RandomNumberGenerator.GetBytes(321);
        var digest = ContentDigest.Compute(content);
        (await client.PostAsync(Url($"/v2/{Repository}/blobs/uploads/?digest={digest}"), Octets(content))).Dispose();

        using var stored = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, Url($"/v2/{Repository}/blobs/{digest}")));
        using var unknown = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, Url($"/v2/{Repository}/blobs/{ContentDigest.Compute([9])}")));

        Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
        Assert.Equal(321, stored.Content.Headers.ContentLength);
        Assert.Equal(digest, Assert.Single(stored.Headers.GetValues("Docker-Content-Digest")));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    internal static Uri Url(string path) => new(path, UriKind.Relative);

    internal static ByteArrayContent Octets(byte[] content)
    {
        var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return body;
    }

    internal static async Task<string> StartAsync(HttpClient client, string repository = Repository)
    {
        using var response = await client.PostAsync(Url($"/v2/{repository}/blobs/uploads/"), null);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return response.Headers.Location!.OriginalString;
    }

    private static async Task<HttpResponseMessage> PatchAsync(HttpClient client, string location, byte[] chunk, string contentRange)
    {
        using var body = Octets(chunk);
        body.Headers.TryAddWithoutValidation("Content-Range", contentRange);
        return await client.PatchAsync(Url(location), body);
    }

    private static async Task<HttpResponseMessage> PutAsync(HttpClient client, string location, byte[] chunk)
    {
        using var body = Octets(chunk);
        return await client.PutAsync(Url(location), body);
    }

    internal static async Task<string> ErrorCodeAsync(HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.GetProperty("errors")[0].GetProperty("code").GetString()!;
    }

    /// <summary>Sent with chunked transfer encoding: the server learns the size only by reading.</summary>
    private sealed class UnknownLengthStream(byte[] content) : MemoryStream(content)
    {
        public override bool CanSeek => false;
    }
}
