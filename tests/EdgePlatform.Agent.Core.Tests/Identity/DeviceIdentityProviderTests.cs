using System.Net;
using System.Text;
using System.Text.Json;
using EdgePlatform.Agent.Core.Identity;
using EdgePlatform.Contracts;
using EdgePlatform.Security.Tuf;
using Microsoft.Extensions.Logging.Abstractions;
using NSubstitute;

namespace EdgePlatform.Agent.Core.Tests.Identity;

public sealed class DeviceIdentityProviderTests : IDisposable
{
    private readonly TempDirectory _data = new();
    private readonly TestPublisher _publisher = new();
    private readonly IHttpClientFactory _httpClients = Substitute.For<IHttpClientFactory>();
    private readonly StubHandler _controlPlane = new();

    // Enrollment retries transient failures forever; a broken test fails instead of hanging.
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));

    public DeviceIdentityProviderTests()
    {
        _httpClients.CreateClient(Arg.Any<string>()).Returns(_ => new HttpClient(_controlPlane, disposeHandler: false));
    }

    public void Dispose()
    {
        _timeout.Dispose();
        _controlPlane.Dispose();
        _publisher.Dispose();
        _data.Dispose();
    }

    [Fact]
    public async Task GetAsync_IdentityFilePresent_LoadsItWithoutEnrolling()
    {
        var stored = Identity("dev-a");
        await File.WriteAllBytesAsync(
            Path.Combine(_data.Path, DeviceIdentityProvider.IdentityFileName),
            JsonSerializer.SerializeToUtf8Bytes(stored, ContractsJsonContext.Default.EnrollmentResponse));
        using var provider = NewProvider(Options(deviceId: null));

        var identity = await provider.GetAsync(_timeout.Token);
        var registry = await provider.GetRegistryUriAsync(_timeout.Token);

        Assert.Equal(stored, identity);
        Assert.Equal(new Uri("http://registry.test:5000/"), registry);
        Assert.Empty(_controlPlane.Requests);
        _httpClients.DidNotReceiveWithAnyArgs().CreateClient(default!);
    }

    [Fact]
    public async Task GetMetadataUriAsync_IdentityFilePresent_ReturnsStoredMetadataUrlWithoutEnrolling()
    {
        await File.WriteAllBytesAsync(
            Path.Combine(_data.Path, DeviceIdentityProvider.IdentityFileName),
            JsonSerializer.SerializeToUtf8Bytes(Identity("dev-a"), ContractsJsonContext.Default.EnrollmentResponse));
        using var provider = NewProvider(Options(deviceId: "dev-a"));

        var metadata = await provider.GetMetadataUriAsync(_timeout.Token);

        Assert.Equal(new Uri("http://control-plane.test:5080/"), metadata);
        Assert.Equal(Path.Combine(_data.Path, "trust"), provider.TrustDirectory);
        Assert.Empty(_controlPlane.Requests);
    }

    [Fact]
    public async Task GetAsync_EnrollmentAccepted_PinsTheRootItWasSent()
    {
        RespondWith(Identity("dev-a"));
        using var provider = NewProvider(Options(deviceId: "dev-a"));

        await provider.GetAsync(_timeout.Token);

        Assert.Equal(_publisher.FirstRoot, await File.ReadAllBytesAsync(Path.Combine(provider.TrustDirectory, TufClient.RootFile)));
        var pinned = new TufClient(provider.TrustDirectory, _publisher.Remote, TimeProvider.System).TrustedRoot();
        Assert.Equal(1, pinned.Version);
        Assert.Equal([_publisher.RootKey.KeyId], pinned.Roles[TufRoles.Root].KeyIds);
    }

    [Fact]
    public async Task GetAsync_EnrollmentSendsRootNotSignedByItsOwnKeys_ThrowsAndKeepsNoIdentityOrRoot()
    {
        var stranger = _publisher.NewKey("someone else's key");
        var forged = _publisher.SignRoot(1, _publisher.RootKey, _publisher.TargetsKeys, 1, [stranger]);
        RespondWith(Identity("dev-a", forged));
        using var provider = NewProvider(Options(deviceId: "dev-a"));

        var error = await Assert.ThrowsAsync<EnrollmentException>(() => provider.GetAsync(_timeout.Token));

        Assert.Contains(TufChecks.RootSignature, error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_data.Path, DeviceIdentityProvider.IdentityFileName)));
        Assert.False(File.Exists(Path.Combine(provider.TrustDirectory, TufClient.RootFile)));
    }

    [Fact]
    public async Task GetAsync_ConfiguredIdDiffersFromStoredOne_ThrowsEnrollmentException()
    {
        await File.WriteAllBytesAsync(
            Path.Combine(_data.Path, DeviceIdentityProvider.IdentityFileName),
            JsonSerializer.SerializeToUtf8Bytes(Identity("dev-a"), ContractsJsonContext.Default.EnrollmentResponse));
        using var provider = NewProvider(Options(deviceId: "dev-b"));

        var error = await Assert.ThrowsAsync<EnrollmentException>(() => provider.GetAsync(_timeout.Token));

        Assert.Contains("'dev-a'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'dev-b'", error.Message, StringComparison.Ordinal);
        Assert.Empty(_controlPlane.Requests);
    }

    [Fact]
    public async Task GetAsync_EnrollmentRefusedWithProblem_ThrowsWithServersDetailAndDoesNotRetry()
    {
        const string Detail = "the enrollment key is not valid for this fleet";
        _controlPlane.Respond = _ => new HttpResponseMessage(HttpStatusCode.Unauthorized)
        {
            Content = new StringContent(
                $$"""{"type":"https://tools.ietf.org/html/rfc9110#section-15.5.2","title":"Unauthorized","status":401,"detail":"{{Detail}}"}""",
                Encoding.UTF8,
                "application/problem+json"),
        };
        using var provider = NewProvider(Options(deviceId: "dev-a"));

        var error = await Assert.ThrowsAsync<EnrollmentException>(() => provider.GetAsync(_timeout.Token));

        Assert.Contains(Detail, error.Message, StringComparison.Ordinal);
        Assert.Contains("401", error.Message, StringComparison.Ordinal);
        Assert.Single(_controlPlane.Requests);
        Assert.False(File.Exists(Path.Combine(_data.Path, DeviceIdentityProvider.IdentityFileName)));
    }

    [Fact]
    public async Task GetAsync_ControlPlaneUnavailableTwice_RetriesAndEnrolls()
    {
        var issued = Identity("dev-a");
        var answers = 0;
        _controlPlane.Respond = _ => ++answers <= 2
            ? new HttpResponseMessage(HttpStatusCode.ServiceUnavailable) { Content = new StringContent("restarting") }
            : Created(issued);
        var options = Options(deviceId: "dev-a");
        options.EnrollmentRetry = new Resilience.RetryBackoffOptions { FirstDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(5) };
        using var provider = NewProvider(options);

        var identity = await provider.GetAsync(_timeout.Token);

        Assert.Equal("dev-a", identity.DeviceId);
        Assert.Equal(3, answers);
    }

    [Fact]
    public async Task GetAsync_ControlPlaneDownAndAgentStopping_StopsPromptlyWithoutAnotherTry()
    {
        var firstTry = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _controlPlane.Respond = _ =>
        {
            firstTry.TrySetResult();
            throw new HttpRequestException("connection refused");
        };
        var options = Options(deviceId: "dev-a");
        options.EnrollmentRetry = new Resilience.RetryBackoffOptions { FirstDelay = TimeSpan.FromMinutes(10), MaxDelay = TimeSpan.FromMinutes(30) };
        using var provider = NewProvider(options);
        using var stopping = new CancellationTokenSource();

        var enrolling = provider.GetAsync(stopping.Token);
        await firstTry.Task.WaitAsync(_timeout.Token);
        await stopping.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => enrolling.WaitAsync(_timeout.Token));
        Assert.Single(_controlPlane.Requests);
        Assert.False(File.Exists(Path.Combine(_data.Path, DeviceIdentityProvider.IdentityFileName)));
    }

    [Fact]
    public async Task GetAsync_EnrollmentAccepted_PostsKeyAndWritesIdentityReadableByOwnerOnly()
    {
        var issued = Identity("dev-a");
        RespondWith(issued);
        using var provider = NewProvider(Options(deviceId: "dev-a"));

        var identity = await provider.GetAsync(_timeout.Token);

        Assert.Equal(issued, identity);
        var (request, body) = Assert.Single(_controlPlane.Requests);
        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal(new Uri("https://control-plane.test:5080/api/v1/enrollments/devices"), request.RequestUri);
        var sent = JsonSerializer.Deserialize(body, ContractsJsonContext.Default.EnrollmentRequest);
        Assert.Equal("dev-a", sent?.DeviceId);
        Assert.Equal("group-key", sent?.EnrollmentKey);

        var file = Path.Combine(_data.Path, DeviceIdentityProvider.IdentityFileName);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        var saved = JsonSerializer.Deserialize(await File.ReadAllBytesAsync(file), ContractsJsonContext.Default.EnrollmentResponse);
        Assert.Equal(issued, saved);
    }

    [Fact]
    public async Task GetAsync_BootstrapCertificate_SendsAProofSignedForNowOverTheIdAndCsr()
    {
        using var bootstrapKey = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var certificateFile = Path.Combine(_data.Path, "bootstrap.crt");
        var keyFile = Path.Combine(_data.Path, "bootstrap.key");
        using (var certificate = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=dev-a", bootstrapKey, System.Security.Cryptography.HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1)))
        {
            await File.WriteAllTextAsync(certificateFile, certificate.ExportCertificatePem());
        }

        await File.WriteAllTextAsync(keyFile, bootstrapKey.ExportPkcs8PrivateKeyPem());
        RespondWith(Identity("dev-a"));
        var options = Options(deviceId: "dev-a", key: null);
        options.BootstrapCertificateFile = certificateFile;
        options.BootstrapKeyFile = keyFile;
        using var provider = NewProvider(options);
        var before = DateTimeOffset.UtcNow;

        await provider.GetAsync(_timeout.Token);

        var sent = JsonSerializer.Deserialize(Assert.Single(_controlPlane.Requests).Body, ContractsJsonContext.Default.EnrollmentRequest)!;
        Assert.InRange(sent.BootstrapSignedAt!.Value, before.AddSeconds(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.True(EdgePlatform.Security.BootstrapProof.Verify(bootstrapKey, "dev-a", sent.BootstrapSignedAt.Value, sent.Csr!, Convert.FromBase64String(sent.BootstrapSignature!)));
        Assert.False(EdgePlatform.Security.BootstrapProof.Verify(bootstrapKey, "dev-b", sent.BootstrapSignedAt.Value, sent.Csr!, Convert.FromBase64String(sent.BootstrapSignature!)));
    }

    [Fact]
    public async Task GetAsync_NotEnrolledAndNoKey_ThrowsWithoutContactingControlPlane()
    {
        using var provider = NewProvider(Options(deviceId: "dev-a", key: null));

        var error = await Assert.ThrowsAsync<EnrollmentException>(() => provider.GetAsync(_timeout.Token));

        Assert.Contains("EnrollmentKey", error.Message, StringComparison.Ordinal);
        Assert.Empty(_controlPlane.Requests);
    }

    [Theory]
    [InlineData("http://control-plane.test:5080")]
    [InlineData("http://10.1.2.3:5080")]
    public async Task GetAsync_PlainHttpBeyondThisMachine_RefusesWithoutSendingTheKey(string url)
    {
        var options = Options(deviceId: "dev-a");
        options.ControlPlaneUrl = url;
        using var provider = NewProvider(options);

        var error = await Assert.ThrowsAsync<EnrollmentException>(() => provider.GetAsync(_timeout.Token));

        Assert.Contains("plain HTTP", error.Message, StringComparison.Ordinal);
        Assert.Empty(_controlPlane.Requests);
    }

    private DeviceIdentityProvider NewProvider(AgentOptions options) =>
        new(Microsoft.Extensions.Options.Options.Create(options), _httpClients, new ControlPlaneTrust(Microsoft.Extensions.Options.Options.Create(options)), TimeProvider.System, NullLogger<DeviceIdentityProvider>.Instance);

    private AgentOptions Options(string? deviceId, string? key = "group-key") => new()
    {
        DataDirectory = _data.Path,
        DeviceId = deviceId,
        ControlPlaneUrl = "https://control-plane.test:5080",
        EnrollmentKey = key,
    };

    /// <summary>What a control plane issues; the device key it belongs to is put in place as enrollment would leave it.</summary>
    private EnrollmentResponse Identity(string deviceId, byte[]? root = null)
    {
        var keyFile = Path.Combine(_data.Path, DeviceIdentityProvider.KeyFileName);
        if (!File.Exists(keyFile))
        {
            using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
            File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        }

        return new(deviceId, "broker.test", 8883, "device-certificate-pem", "ca-certificate-pem", "http://registry.test:5000", "http://control-plane.test:5080", Encoding.UTF8.GetString(root ?? _publisher.FirstRoot));
    }

    private void RespondWith(EnrollmentResponse issued) => _controlPlane.Respond = _ => Created(issued);

    private static HttpResponseMessage Created(EnrollmentResponse issued) =>
        new(HttpStatusCode.Created)
        {
            Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(issued, ContractsJsonContext.Default.EnrollmentResponse))
            {
                Headers = { ContentType = new("application/json") },
            },
        };

    /// <summary>The control plane's enrollment endpoint: answers with <see cref="Respond"/> and records each request with its body.</summary>
    private sealed class StubHandler : HttpMessageHandler
    {
        private readonly List<(HttpRequestMessage Request, byte[] Body)> _requests = [];

        public Func<HttpRequestMessage, HttpResponseMessage> Respond { get; set; } =
            _ => throw new HttpRequestException("no control plane in this test");

        public IReadOnlyList<(HttpRequestMessage Request, byte[] Body)> Requests => _requests;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
            _requests.Add((request, body));
            return Respond(request);
        }
    }
}
