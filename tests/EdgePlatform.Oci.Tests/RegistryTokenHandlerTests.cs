using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EdgePlatform.Oci.Tests;

/// <summary>
/// Two HTTP servers on loopback: a registry that answers 401 naming a token service, and that
/// token service, which records every credential it is handed.
/// </summary>
public sealed class RegistryTokenHandlerTests : IDisposable
{
    private const string Secret = "ept_secret";
    private readonly HttpListener _registry = new();
    private readonly HttpListener _tokenService = new();
    private readonly ConcurrentQueue<string?> _credentialsSeen = new();
    private readonly CancellationTokenSource _stop = new();

    public RegistryTokenHandlerTests()
    {
        RegistryUri = Start(_registry, ServeRegistryAsync);
        TokenServiceUri = Start(_tokenService, ServeTokensAsync);
    }

    private Uri RegistryUri { get; }

    private Uri TokenServiceUri { get; }

    /// <summary>What the registry names as its realm; by default the second server.</summary>
    private string Realm { get; set; } = string.Empty;

    public void Dispose()
    {
        _stop.Cancel();
        _registry.Close();
        _tokenService.Close();
        _stop.Dispose();
    }

    [Fact]
    public async Task SendAsync_ChallengeNamesATokenServiceOnAnotherOrigin_SendsItNoCredential()
    {
        Realm = new Uri(TokenServiceUri, "token").ToString();
        using var client = Client(trusted: []);

        var ex = await Assert.ThrowsAsync<OciRegistryException>(() => client.GetAsync(new Uri(RegistryUri, "v2/models/m/manifests/1")));

        Assert.Contains("neither the registry's own origin nor a token service this client trusts; no credential was sent", ex.Message, StringComparison.Ordinal);
        Assert.Empty(_credentialsSeen);
    }

    [Fact]
    public async Task SendAsync_ChallengeNamesTheTrustedTokenService_PresentsTheCredentialAndRetriesWithTheToken()
    {
        Realm = new Uri(TokenServiceUri, "token").ToString();
        using var client = Client(trusted: [TokenServiceUri]);

        using var response = await client.GetAsync(new Uri(RegistryUri, "v2/models/m/manifests/1"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal([$"Bearer {Secret}"], _credentialsSeen);
    }

    [Fact]
    public async Task SendAsync_TrustedTokenServiceOverPlainHttpBeyondLoopback_SendsItNoCredential()
    {
        // Refused before any connection is made: nothing leaves this machine.
        var remote = new Uri("http://192.0.2.10:5080/");
        Realm = new Uri(remote, "api/v1/registry/token").ToString();
        using var client = Client(trusted: [remote]);

        var ex = await Assert.ThrowsAsync<OciRegistryException>(() => client.GetAsync(new Uri(RegistryUri, "v2/models/m/manifests/1")));

        Assert.Contains("over plain HTTP to a host beyond loopback; no credential was sent", ex.Message, StringComparison.Ordinal);
    }

    private static HttpClient Client(Uri[] trusted) =>
        new(new RegistryTokenHandler(_ => ValueTask.FromResult<string?>(Secret), trusted) { InnerHandler = new HttpClientHandler() });

    private Uri Start(HttpListener listener, Func<HttpListenerContext, Task> serve)
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var prefix = $"http://127.0.0.1:{port}/";
        listener.Prefixes.Add(prefix);
        listener.Start();
        _ = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }

                await serve(context);
            }
        });
        return new Uri(prefix);
    }

    private async Task ServeRegistryAsync(HttpListenerContext context)
    {
        if (context.Request.Headers["Authorization"] == "Bearer registry-token")
        {
            await RespondAsync(context, HttpStatusCode.OK, "{}");
            return;
        }

        context.Response.AddHeader("WWW-Authenticate", $"Bearer realm=\"{Realm}\",service=\"registry\",scope=\"repository:models/m:pull\"");
        await RespondAsync(context, HttpStatusCode.Unauthorized, "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}");
    }

    private async Task ServeTokensAsync(HttpListenerContext context)
    {
        _credentialsSeen.Enqueue(context.Request.Headers["Authorization"]);
        await RespondAsync(context, HttpStatusCode.OK, "{\"token\":\"registry-token\"}");
    }

    private static async Task RespondAsync(HttpListenerContext context, HttpStatusCode status, string body)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        context.Response.StatusCode = (int)status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength64 = bytes.Length;
        await context.Response.OutputStream.WriteAsync(bytes);
        context.Response.Close();
    }
}
