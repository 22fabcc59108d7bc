using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Tests.Fakes;
using EdgePlatform.Security.Attestation;
using EdgePlatform.Security.Pki;
using EdgePlatform.Security.Tokens;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Tests.Devices;

/// <summary>The verifier: nonces, signatures, the build policy, installed models, and the token it issues.</summary>
public sealed class AttestationServiceTests : IDisposable
{
    private const string ChangedBuild = "sha256:" + "ab";
    private static readonly string Build = "sha256:" + new string('b', 64);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero));
    private readonly InMemoryStore _store = new();
    private readonly CertificateAuthority _ca;
    private readonly TokenSigner _tokens;
    private readonly AttestationService _attestation;
    private readonly Dictionary<string, ECDsa> _keys = [];

    public AttestationServiceTests()
    {
        _ca = CertificateAuthority.Create("test CA", _time.GetUtcNow().AddDays(-1));
        _tokens = TokenSigner.Create("test tokens", _time.GetUtcNow().AddDays(-1));
        var options = new AttestationOptions { TokenMinutes = 15, NonceSeconds = 60 };
        options.AllowedAgentBuilds["production"] = [Build];
        _attestation = new AttestationService(
            _store, _store, [new SoftwareEvidenceVerifier()], _tokens, Options.Create(options), _time, NullLogger<AttestationService>.Instance);
    }

    public void Dispose()
    {
        _ca.Dispose();
        _tokens.Dispose();
        foreach (var key in _keys.Values)
        {
            key.Dispose();
        }
    }

    [Fact]
    public async Task AttestAsync_GoodEvidence_IssuesATokenTheRegistrySideAccepts()
    {
        await EnrollAsync("dev-a");
        var nonce = await _attestation.IssueNonceAsync(new AttestationNonceRequest("dev-a"), CancellationToken.None);

        var result = await _attestation.AttestAsync(Sign("dev-a", Evidence("dev-a", nonce.Nonce)), CancellationToken.None);

        Assert.Equal(_time.GetUtcNow().AddMinutes(15), result.ExpiresAt);
        Assert.Equal(("dev-a", string.Empty), await _attestation.ValidateTokenAsync(result.Token, CancellationToken.None));
        var device = await _store.GetDeviceAsync("dev-a", CancellationToken.None);
        Assert.Equal(AttestationStates.Verified, device!.Attestation!.State);
    }

    [Fact]
    public async Task AttestAsync_ReplayedNonce_IsRefused()
    {
        await EnrollAsync("dev-a");
        var nonce = await _attestation.IssueNonceAsync(new AttestationNonceRequest("dev-a"), CancellationToken.None);
        var request = Sign("dev-a", Evidence("dev-a", nonce.Nonce));
        await _attestation.AttestAsync(request, CancellationToken.None);

        var replay = await Assert.ThrowsAsync<AttestationFailedException>(() => _attestation.AttestAsync(request, CancellationToken.None));

        Assert.Contains("nonce check failed", replay.Message, StringComparison.Ordinal);
        Assert.Contains("replay", replay.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AttestAsync_ExpiredNonce_IsRefused()
    {
        await EnrollAsync("dev-a");
        var nonce = await _attestation.IssueNonceAsync(new AttestationNonceRequest("dev-a"), CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(61));

        var late = await Assert.ThrowsAsync<AttestationFailedException>(
            () => _attestation.AttestAsync(Sign("dev-a", Evidence("dev-a", nonce.Nonce)), CancellationToken.None));

        Assert.Contains("nonce expired", late.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AttestAsync_EvidenceSignedByAnotherDevice_IsRefusedWithoutMarkingTheVictim()
    {
        await EnrollAsync("dev-a");
        await EnrollAsync("dev-b");
        var nonce = await _attestation.IssueNonceAsync(new AttestationNonceRequest("dev-a"), CancellationToken.None);

        var forged = await Assert.ThrowsAsync<AttestationFailedException>(
            () => _attestation.AttestAsync(Sign("dev-b", Evidence("dev-a", nonce.Nonce)), CancellationToken.None));

        Assert.Contains("signature check failed", forged.Message, StringComparison.Ordinal);
        Assert.Null((await _store.GetDeviceAsync("dev-a", CancellationToken.None))!.Attestation);
    }

    [Fact]
    public async Task AttestAsync_NonceIssuedToAnotherDevice_IsRefused()
    {
        await EnrollAsync("dev-a");
        await EnrollAsync("dev-b");
        var nonce = await _attestation.IssueNonceAsync(new AttestationNonceRequest("dev-b"), CancellationToken.None);

        var error = await Assert.ThrowsAsync<AttestationFailedException>(
            () => _attestation.AttestAsync(Sign("dev-a", Evidence("dev-a", nonce.Nonce)), CancellationToken.None));

        Assert.Contains("issued to another device", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AttestAsync_AgentBuildNotInPolicy_FailsIsRecordedAndRevokesTheDevicesTokens()
    {
        await EnrollAsync("dev-a");
        var good = await AttestAsync("dev-a", Build);

        var nonce = await _attestation.IssueNonceAsync(new AttestationNonceRequest("dev-a"), CancellationToken.None);
        var changed = await Assert.ThrowsAsync<AttestationFailedException>(
            () => _attestation.AttestAsync(Sign("dev-a", Evidence("dev-a", nonce.Nonce, build: ChangedBuild)), CancellationToken.None));

        Assert.Contains("measurement check failed: agent build", changed.Message, StringComparison.Ordinal);
        var device = await _store.GetDeviceAsync("dev-a", CancellationToken.None);
        Assert.Equal(AttestationStates.Failed, device!.Attestation!.State);
        Assert.Equal(changed.Message, device.Attestation.Reason);
        Assert.Null((await _attestation.ValidateTokenAsync(good.Token, CancellationToken.None)).DeviceId);
    }

    [Fact]
    public async Task AttestAsync_InstalledModelTheControlPlaneNeverPublished_Fails()
    {
        await EnrollAsync("dev-a");
        var nonce = await _attestation.IssueNonceAsync(new AttestationNonceRequest("dev-a"), CancellationToken.None);
        var evidence = Evidence("dev-a", nonce.Nonce, model: new Measurement(MeasurementKinds.Model, "m:1", "sha256:" + new string('c', 64)));

        var error = await Assert.ThrowsAsync<AttestationFailedException>(() => _attestation.AttestAsync(Sign("dev-a", evidence), CancellationToken.None));

        Assert.Contains("installed model 'm:1'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ValidateTokenAsync_Expired_IsRefusedUntilTheDeviceAttestsAgain()
    {
        await EnrollAsync("dev-a");
        var first = await AttestAsync("dev-a", Build);
        _time.Advance(TimeSpan.FromMinutes(16));

        var (expired, reason) = await _attestation.ValidateTokenAsync(first.Token, CancellationToken.None);
        var second = await AttestAsync("dev-a", Build);

        Assert.Null(expired);
        Assert.Contains("expired", reason, StringComparison.Ordinal);
        Assert.Equal("dev-a", (await _attestation.ValidateTokenAsync(second.Token, CancellationToken.None)).DeviceId);
    }

    [Fact]
    public async Task RegistryToken_ExpiredAttestationToken_PullRefusedUntilTheDeviceAttestsAgain()
    {
        await EnrollAsync("dev-a");
        var registry = RegistryTokens();
        var first = await AttestAsync("dev-a", Build);
        var pull = await registry.IssueAsync(first.Token, "edgeplatform-registry", ["repository:models/m:pull"], CancellationToken.None);
        Assert.Null(await registry.RefusalAsync(pull.Token, "models/m", "pull", CancellationToken.None));

        _time.Advance(TimeSpan.FromMinutes(16));

        var expiredReason = await registry.RefusalAsync(pull.Token, "models/m", "pull", CancellationToken.None);
        Assert.Contains("expired", expiredReason, StringComparison.Ordinal);
        var refused = await Assert.ThrowsAsync<CredentialRejectedException>(
            () => registry.IssueAsync(first.Token, "edgeplatform-registry", ["repository:models/m:pull"], CancellationToken.None));
        Assert.Contains("expired", refused.Message, StringComparison.Ordinal);

        var second = await AttestAsync("dev-a", Build);
        var again = await registry.IssueAsync(second.Token, "edgeplatform-registry", ["repository:models/m:pull"], CancellationToken.None);
        Assert.Null(await registry.RefusalAsync(again.Token, "models/m", "pull", CancellationToken.None));
    }

    [Fact]
    public async Task RegistryToken_AttestedDevice_GetsPullButNeverPush()
    {
        await EnrollAsync("dev-a");
        var registry = RegistryTokens();
        var attested = await AttestAsync("dev-a", Build);

        var token = await registry.IssueAsync(attested.Token, null, ["repository:models/m:pull,push"], CancellationToken.None);

        Assert.Null(await registry.RefusalAsync(token.Token, "models/m", "pull", CancellationToken.None));
        Assert.NotNull(await registry.RefusalAsync(token.Token, "models/m", "push", CancellationToken.None));
        Assert.NotNull(await registry.RefusalAsync(token.Token, "models/other", "pull", CancellationToken.None));
    }

    [Fact]
    public async Task RegistryToken_DeviceRevokedAfterItWasIssued_PullRefusedAtOnce()
    {
        await EnrollAsync("dev-a");
        var registry = RegistryTokens();
        var attested = await AttestAsync("dev-a", Build);
        var token = await registry.IssueAsync(attested.Token, null, ["repository:models/m:pull"], CancellationToken.None);
        Assert.Null(await registry.RefusalAsync(token.Token, "models/m", "pull", CancellationToken.None));

        await _store.SaveStatusAsync("dev-a", DeviceStatuses.Revoked, _time.GetUtcNow(), CancellationToken.None);

        Assert.Contains("revoked", await registry.RefusalAsync(token.Token, "models/m", "pull", CancellationToken.None), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RegistryToken_DeviceThatFailedAttestation_IsRefused()
    {
        await EnrollAsync("dev-a");
        var registry = RegistryTokens();
        var attested = await AttestAsync("dev-a", Build);
        await Assert.ThrowsAsync<AttestationFailedException>(() => AttestAsync("dev-a", ChangedBuild));

        var refused = await Assert.ThrowsAsync<CredentialRejectedException>(
            () => registry.IssueAsync(attested.Token, null, ["repository:models/m:pull"], CancellationToken.None));

        Assert.Contains("failed attestation", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task IssueNonceAsync_UnknownDevice_AnswersLikeAnEnrolledOneButTheNonceAttestsNothing()
    {
        await EnrollAsync("dev-a");
        var known = await _attestation.IssueNonceAsync(new AttestationNonceRequest("dev-a"), CancellationToken.None);
        var unknown = await _attestation.IssueNonceAsync(new AttestationNonceRequest("dev-nobody"), CancellationToken.None);

        Assert.Equal((known.Nonce.Length, known.ExpiresAt), (unknown.Nonce.Length, unknown.ExpiresAt));
        var refused = await Assert.ThrowsAsync<AttestationFailedException>(
            () => _attestation.AttestAsync(Sign("dev-a", Evidence("dev-a", unknown.Nonce)), CancellationToken.None));
        Assert.StartsWith("nonce check failed", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task IssueNonceAsync_FloodFromOneClient_OtherDevicesStillAttest()
    {
        await EnrollAsync("dev-a");
        await EnrollAsync("dev-b");

        // More requests than the 100,000 shared slots, for an enrolled id and for ids nobody enrolled.
        for (var i = 0; i < 150_000; i++)
        {
            await _attestation.IssueNonceAsync(new AttestationNonceRequest(i % 2 == 0 ? "dev-b" : $"dev-flood-{i}"), CancellationToken.None);
        }

        var attested = await AttestAsync("dev-a", Build);

        Assert.False(string.IsNullOrEmpty(attested.Token));
    }

    [Fact]
    public async Task IssueNonceAsync_MoreThanTheDeviceMayHold_GivesUpItsOldest()
    {
        await EnrollAsync("dev-a");
        var first = await _attestation.IssueNonceAsync(new AttestationNonceRequest("dev-a"), CancellationToken.None);
        AttestationNonce last = first;
        for (var i = 0; i < new AttestationOptions().MaxNoncesPerDevice; i++)
        {
            last = await _attestation.IssueNonceAsync(new AttestationNonceRequest("dev-a"), CancellationToken.None);
        }

        var refused = await Assert.ThrowsAsync<AttestationFailedException>(
            () => _attestation.AttestAsync(Sign("dev-a", Evidence("dev-a", first.Nonce)), CancellationToken.None));
        Assert.StartsWith("nonce check failed", refused.Message, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty((await _attestation.AttestAsync(Sign("dev-a", Evidence("dev-a", last.Nonce)), CancellationToken.None)).Token));
    }

    [Fact]
    public async Task AttestAsync_BuildOfEachArchitectureListedInAReleaseFile_Attests()
    {
        var x64 = "sha256:" + new string('1', 64);
        var arm64 = "sha256:" + new string('2', 64);
        using var releases = new ReleaseDirectory();
        releases.Write("edgeplatform-agent-0.2.0.json", $$"""
            { "version": "0.2.0", "builds": [ { "runtime": "linux-x64", "agentBuild": "{{x64}}" }, { "runtime": "linux-arm64", "agentBuild": "{{arm64}}" } ] }
            """);
        var attestation = Verifier(new AttestationOptions { AllowedAgentBuildsDirectory = releases.Path });
        await EnrollAsync("dev-x64");
        await EnrollAsync("dev-arm64");

        Assert.False(string.IsNullOrEmpty((await AttestAsync(attestation, "dev-x64", x64)).Token));
        Assert.False(string.IsNullOrEmpty((await AttestAsync(attestation, "dev-arm64", arm64)).Token));
        var other = await Assert.ThrowsAsync<AttestationFailedException>(() => AttestAsync(attestation, "dev-x64", Build));
        Assert.Contains("measurement check failed: agent build", other.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AttestAsync_ReleaseFileNamingOtherChannels_RefusedOnTheDevicesChannel()
    {
        var build = "sha256:" + new string('3', 64);
        using var releases = new ReleaseDirectory();
        releases.Write("canary.json", $$"""{ "version": "0.3.0", "channels": ["canary"], "builds": [ { "runtime": "linux-arm64", "agentBuild": "{{build}}" } ] }""");
        var attestation = Verifier(new AttestationOptions { AllowedAgentBuildsDirectory = releases.Path });
        await EnrollAsync("dev-a");

        var refused = await Assert.ThrowsAsync<AttestationFailedException>(() => AttestAsync(attestation, "dev-a", build));

        Assert.Contains("is not allowed on channel 'production'", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{ "version": "0.2.0", "builds": [] }""", "lists no builds")]
    [InlineData("""{ "version": "0.2.0", "builds": [ { "runtime": "linux-arm64", "agentBuild": "sha256:abc" } ] }""", "build 'linux-arm64' has agentBuild 'sha256:abc', which is not a measurement")]
    [InlineData("""{ "version": """, "is not a release's agent-builds.json")]
    public void ReadDirectory_FileThatIsNotAReleasesBuilds_NamesTheFileAndTheProblem(string content, string expected)
    {
        using var releases = new ReleaseDirectory();
        releases.Write("broken.json", content);

        var error = Assert.Throws<InvalidDataException>(() => AgentReleaseBuilds.ReadDirectory(releases.Path));

        Assert.Contains(System.IO.Path.Combine(releases.Path, "broken.json"), error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    private AttestationService Verifier(AttestationOptions options) =>
        new(_store, _store, [new SoftwareEvidenceVerifier()], _tokens, Options.Create(options), _time, NullLogger<AttestationService>.Instance);

    private async Task<AttestationResult> AttestAsync(AttestationService attestation, string deviceId, string build)
    {
        var nonce = await attestation.IssueNonceAsync(new AttestationNonceRequest(deviceId), CancellationToken.None);
        return await attestation.AttestAsync(Sign(deviceId, Evidence(deviceId, nonce.Nonce, build)), CancellationToken.None);
    }

    private sealed class ReleaseDirectory : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("edgeplatform-agent-builds-").FullName;

        public void Write(string name, string content) => File.WriteAllText(System.IO.Path.Combine(Path, name), content);

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }

    private Access.RegistryTokenService RegistryTokens() => new(
        new Access.AccessService(NSubstitute.Substitute.For<Access.IAccessStore>(), _time, NullLogger<Access.AccessService>.Instance),
        _attestation,
        _tokens,
        Options.Create(new Access.RegistryAuthOptions()),
        _time,
        NullLogger<Access.RegistryTokenService>.Instance);

    private async Task<AttestationResult> AttestAsync(string deviceId, string build)
    {
        var nonce = await _attestation.IssueNonceAsync(new AttestationNonceRequest(deviceId), CancellationToken.None);
        return await _attestation.AttestAsync(Sign(deviceId, Evidence(deviceId, nonce.Nonce, build)), CancellationToken.None);
    }

    private async Task EnrollAsync(string deviceId)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        _keys[deviceId] = key;
        var csr = new CertificateRequest($"CN={deviceId}", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
        using var certificate = _ca.IssueDeviceCertificate(csr, deviceId, _time.GetUtcNow(), TimeSpan.FromDays(30));
        await _store.UpsertDeviceAsync(
            new DeviceRecord(deviceId, new Dictionary<string, string>(), CertificateAuthority.Thumbprint(certificate), _time.GetUtcNow(), DeviceStatuses.Online, null, null, null, certificate.ExportCertificatePem()),
            CancellationToken.None);
    }

    private byte[] Evidence(string deviceId, string nonce, string? build = null, Measurement? model = null)
    {
        List<Measurement> measurements = [new(MeasurementKinds.AgentBuild, "edgeplatform-agent", build ?? Build)];
        if (model is not null)
        {
            measurements.Add(model);
        }

        return JsonSerializer.SerializeToUtf8Bytes(
            new AttestationEvidence(deviceId, nonce, "production", "1.0.0", measurements, new PlatformFacts("linux", "x64", ".NET", "host", false), _time.GetUtcNow()),
            ContractsJsonContext.Default.AttestationEvidence);
    }

    private AttestationRequest Sign(string signerDeviceId, byte[] evidence) =>
        new(SoftwareEvidenceSigner.FormatName, Convert.ToBase64String(evidence), Convert.ToBase64String(new SoftwareEvidenceSigner(_keys[signerDeviceId]).Sign(evidence)));
}
