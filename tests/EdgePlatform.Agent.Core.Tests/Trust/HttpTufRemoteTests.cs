using System.Net;
using EdgePlatform.Security.Tuf;

namespace EdgePlatform.Agent.Core.Tests.Trust;

public sealed class HttpTufRemoteTests : IDisposable
{
    private static readonly Uri MetadataServer = new("http://control-plane.test:5080/");

    private readonly StubHandler _server = new();
    private readonly HttpClient _http;
    private readonly HttpTufRemote _remote;

    public HttpTufRemoteTests()
    {
        _http = new HttpClient(_server, disposeHandler: false);
        _remote = new HttpTufRemote(_http, _ => ValueTask.FromResult(MetadataServer));
    }

    public void Dispose()
    {
        _http.Dispose();
        _server.Dispose();
    }

    [Fact]
    public async Task GetRootAsync_VersionServed_ReturnsItsBytesFromTheVersionedPath()
    {
        byte[] root = [1, 2, 3];
        _server.Respond = _ => new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(root) };

        var bytes = await _remote.GetRootAsync(7, CancellationToken.None);

        Assert.Equal(root, bytes);
        Assert.Equal(new Uri(MetadataServer, "api/v1/trust/root/7"), Assert.Single(_server.Requests));
    }

    [Fact]
    public async Task GetRootAsync_NoSuchVersion_ReturnsNull()
    {
        _server.Respond = _ => new HttpResponseMessage(HttpStatusCode.NotFound);

        Assert.Null(await _remote.GetRootAsync(2, CancellationToken.None));
    }

    [Fact]
    public async Task GetTimestampAsync_ServerError_ThrowsWithStatus()
    {
        _server.Respond = _ => new HttpResponseMessage(HttpStatusCode.ServiceUnavailable);

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => _remote.GetTimestampAsync(CancellationToken.None));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, error.StatusCode);
        Assert.Equal(new Uri(MetadataServer, "api/v1/trust/timestamp"), Assert.Single(_server.Requests));
    }

    [Fact]
    public async Task GetTargetsAsync_DeclaredLengthOverLimit_RefusesWithoutReadingTheBody()
    {
        var body = new EndlessStream();
        _server.Respond = _ => new HttpResponseMessage(HttpStatusCode.OK)
        {
            Content = new StreamContent(body) { Headers = { ContentLength = HttpTufRemote.MaxMetadataBytes + 1L } },
        };

        await Assert.ThrowsAsync<TufFormatException>(() => _remote.GetTargetsAsync(CancellationToken.None));

        Assert.Equal(0, body.BytesRead);
    }

    [Fact]
    public async Task GetTargetsAsync_EndlessBodyWithoutLength_StopsShortlyPastTheLimit()
    {
        var body = new EndlessStream();
        _server.Respond = _ => new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(body) };

        await Assert.ThrowsAsync<TufFormatException>(() => _remote.GetTargetsAsync(CancellationToken.None));

        Assert.InRange(body.BytesRead, HttpTufRemote.MaxMetadataBytes + 1L, HttpTufRemote.MaxMetadataBytes + (1L << 20));
    }

    private sealed class StubHandler : HttpMessageHandler
    {
        private readonly List<Uri> _requests = [];

        public Func<HttpRequestMessage, HttpResponseMessage> Respond { get; set; } =
            _ => throw new HttpRequestException("no metadata server in this test");

        public IReadOnlyList<Uri> Requests => _requests;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            _requests.Add(request.RequestUri!);
            var response = Respond(request);
            response.RequestMessage = request;
            return Task.FromResult(response);
        }
    }
}
