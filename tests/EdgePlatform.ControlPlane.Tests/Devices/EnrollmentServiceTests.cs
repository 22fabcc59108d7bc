using System.Security.Cryptography.X509Certificates;
using System.Text;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Tests.Fakes;
using EdgePlatform.Security;
using EdgePlatform.Security.Pki;
using EdgePlatform.Security.Tuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Tests.Devices;

public sealed class EnrollmentServiceTests : IDisposable
{
    private const string GroupKey = "0123456789abcdef0123456789abcdef";

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly InMemoryStore _store = new();
    private readonly TestTrustPublisher _trust;
    private readonly EnrollmentService _enrollment;
    private readonly CertificateAuthority _ca = CertificateAuthority.Create("test device CA", new DateTimeOffset(2025, 5, 1, 0, 0, 0, TimeSpan.Zero));

    public EnrollmentServiceTests()
    {
        _trust = new TestTrustPublisher(_time);
        var options = Options.Create(new EnrollmentOptions
        {
            GroupKey = GroupKey,
            MqttHost = "broker.local",
            MqttPort = 8883,
            RegistryUrl = "http://registry.local:5080",
            MetadataUrl = "http://metadata.local:5080",
        });
        _enrollment = new EnrollmentService(_store, _store, _trust, _ca, options, _time, NullLogger<EnrollmentService>.Instance);
    }

    public void Dispose()
    {
        _trust.Dispose();
        _ca.Dispose();
    }

    [Fact]
    public async Task EnrollAsync_KeyDerivedFromAGroupForThisDevice_Enrolls()
    {
        var group = await _enrollment.CreateGroupAsync(new CreateEnrollmentGroupRequest("plant-a"), CancellationToken.None);

        var response = await _enrollment.EnrollAsync(new EnrollmentRequest("dev-derived", EdgePlatform.Security.EnrollmentKeys.Derive(group.Key!, "dev-derived"), null, TestCsr.Pem), CancellationToken.None);

        Assert.Equal("dev-derived", response.DeviceId);
    }

    [Fact]
    public async Task EnrollAsync_KeyDerivedForAnotherDevice_IsRejected()
    {
        var group = await _enrollment.CreateGroupAsync(new CreateEnrollmentGroupRequest("plant-a"), CancellationToken.None);
        var othersKey = EdgePlatform.Security.EnrollmentKeys.Derive(group.Key!, "dev-other");

        await Assert.ThrowsAsync<CredentialRejectedException>(
            () => _enrollment.EnrollAsync(new EnrollmentRequest("dev-thief", othersKey, null, TestCsr.Pem), CancellationToken.None));
    }

    [Fact]
    public async Task EnrollAsync_KeyFromARevokedGroup_IsRejected()
    {
        var group = await _enrollment.CreateGroupAsync(new CreateEnrollmentGroupRequest("batch-7"), CancellationToken.None);
        await _enrollment.RevokeGroupAsync(group.Id, CancellationToken.None);

        await Assert.ThrowsAsync<CredentialRejectedException>(
            () => _enrollment.EnrollAsync(new EnrollmentRequest("dev-late", EdgePlatform.Security.EnrollmentKeys.Derive(group.Key!, "dev-late"), null, TestCsr.Pem), CancellationToken.None));
        Assert.Null((await _enrollment.ListGroupsAsync(CancellationToken.None)).Single().Key);
    }

    [Fact]
    public async Task EnrollAsync_RightKey_ReturnsConnectionDetailsAndACertificateNamingTheDevice()
    {
        var response = await _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", KeyFor("dev-1"), new Dictionary<string, string> { ["site"] = "plant-a" }, TestCsr.Pem), CancellationToken.None);

        Assert.Equal("dev-1", response.DeviceId);
        Assert.Equal("broker.local", response.MqttHost);
        Assert.Equal(8883, response.MqttPort);
        Assert.Equal("http://registry.local:5080", response.RegistryUrl);
        Assert.Equal("http://metadata.local:5080", response.MetadataUrl);
        using var certificate = X509Certificate2.CreateFromPem(response.Certificate);
        Assert.Equal("CN=dev-1", certificate.Subject);
        Assert.Equal(_ca.CertificatePem, response.CaCertificate);
        Assert.Equal(("dev-1", string.Empty), await _enrollment.IdentifyAsync(certificate, CancellationToken.None));

        var stored = await _store.GetDeviceAsync("dev-1", CancellationToken.None);
        Assert.NotNull(stored);
        Assert.Equal("plant-a", stored.Tags["site"]);
        Assert.Equal(DeviceStatuses.NeverConnected, stored.Status);
        Assert.Equal(CertificateAuthority.Thumbprint(certificate), stored.CertificateThumbprint);
    }

    [Fact]
    public async Task EnrollAsync_RightKey_ReturnsTheCurrentRootForTheDeviceToPin()
    {
        var response = await _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", KeyFor("dev-1"), null, TestCsr.Pem), CancellationToken.None);

        var envelope = TufEnvelopes.Parse(Encoding.UTF8.GetBytes(response.TrustedRoot));
        Assert.Equal(TufRoles.Root, envelope.Signed.GetProperty("type").GetString());
        var pinned = TufClient.Pin(_trust.DeviceDirectory("dev-1"), Encoding.UTF8.GetBytes(response.TrustedRoot));
        Assert.Equal(1, pinned.Version);
        Assert.Equal([_trust.TargetsKey.KeyId], pinned.Roles[TufRoles.Targets].KeyIds);
    }

    [Fact]
    public async Task EnrollAsync_AfterARootRotation_ReturnsTheNewestRoot()
    {
        using var newRoot = TufSigningKey.Create("test root 2", _time.Now);
        var second = TufRepository.NewRoot(
            2,
            _time.Now.AddDays(365),
            new Dictionary<string, (IReadOnlyList<TufSigningKey>, int)>
            {
                [TufRoles.Root] = ([newRoot], 1),
                [TufRoles.Targets] = ([_trust.TargetsKey], 1),
                [TufRoles.Timestamp] = ([_trust.TimestampKey], 1),
            });
        _trust.Repository.AddRoot(TufEnvelopes.Serialize(TufEnvelopes.Create(second, TufJsonContext.Default.RootMetadata, [_trust.RootKey, newRoot], _time.Now)));

        var response = await _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", KeyFor("dev-1"), null, TestCsr.Pem), CancellationToken.None);

        Assert.Equal(2, TufClient.Pin(_trust.DeviceDirectory("dev-1"), Encoding.UTF8.GetBytes(response.TrustedRoot)).Version);
    }

    [Fact]
    public async Task EnrollAsync_WrongKey_ThrowsCredentialRejectedAndStoresNothing()
    {
        var exception = await Assert.ThrowsAsync<CredentialRejectedException>(
            () => _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", KeyFor("dev-2"), null, TestCsr.Pem), CancellationToken.None));

        Assert.Equal("the enrollment key is not valid", exception.Message);
        Assert.Null(await _store.GetDeviceAsync("dev-1", CancellationToken.None));
    }

    [Fact]
    public async Task EnrollAsync_KeyThatIsAPrefixOfTheRightOne_ThrowsCredentialRejected()
    {
        await Assert.ThrowsAsync<CredentialRejectedException>(
            () => _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", KeyFor("dev-1")[..8], null, TestCsr.Pem), CancellationToken.None));
    }

    [Theory]
    [InlineData("")]
    [InlineData("Dev-1")]
    [InlineData("dev/1")]
    [InlineData("dev-#")]
    [InlineData("-dev")]
    public async Task EnrollAsync_InvalidDeviceId_ThrowsValidationNamingDeviceId(string deviceId)
    {
        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _enrollment.EnrollAsync(new EnrollmentRequest(deviceId, KeyFor("dev-1"), null, TestCsr.Pem), CancellationToken.None));

        Assert.Equal("deviceId", exception.Field);
        Assert.Equal(DeviceIds.Describe(deviceId), exception.Problem);
    }

    [Fact]
    public async Task EnrollAsync_InvalidDeviceIdAndWrongKey_ReportsTheIdFirst()
    {
        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _enrollment.EnrollAsync(new EnrollmentRequest("BAD", "wrong", null, TestCsr.Pem), CancellationToken.None));

        Assert.Equal("deviceId", exception.Field);
    }

    [Fact]
    public async Task EnrollAsync_NoKey_ThrowsValidationNamingEnrollmentKey()
    {
        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", "", null, TestCsr.Pem), CancellationToken.None));

        Assert.Equal("enrollmentKey", exception.Field);
    }

    [Fact]
    public async Task EnrollAsync_NoBody_ThrowsValidationNamingBody()
    {
        var exception = await Assert.ThrowsAsync<RequestValidationException>(() => _enrollment.EnrollAsync(null, CancellationToken.None));

        Assert.Equal("body", exception.Field);
    }

    [Fact]
    public async Task EnrollAsync_TooManyTags_ThrowsValidationNamingTags()
    {
        var tags = Enumerable.Range(0, 33).ToDictionary(i => $"k{i}", i => "v");

        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", KeyFor("dev-1"), tags, TestCsr.Pem), CancellationToken.None));

        Assert.Equal("tags", exception.Field);
    }

    [Fact]
    public async Task EnrollAsync_TagValueTooLong_ThrowsValidationNamingTags()
    {
        var tags = new Dictionary<string, string> { ["site"] = new string('x', 257) };

        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", KeyFor("dev-1"), tags, TestCsr.Pem), CancellationToken.None));

        Assert.Equal("tags", exception.Field);
        Assert.Contains("'site'", exception.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EnrollAsync_AgainForTheSameDevice_RetiresTheEarlierCertificate()
    {
        var first = await _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", KeyFor("dev-1"), null, TestCsr.Pem), CancellationToken.None);
        _time.Advance(TimeSpan.FromHours(1));

        var second = await _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", KeyFor("dev-1"), null, TestCsr.Pem), CancellationToken.None);

        using var firstCertificate = X509Certificate2.CreateFromPem(first.Certificate);
        using var secondCertificate = X509Certificate2.CreateFromPem(second.Certificate);
        Assert.Null((await _enrollment.IdentifyAsync(firstCertificate, CancellationToken.None)).DeviceId);
        Assert.Equal("dev-1", (await _enrollment.IdentifyAsync(secondCertificate, CancellationToken.None)).DeviceId);
    }

    [Fact]
    public async Task EnrollAsync_NoCsr_IsABadRequestNamingTheField()
    {
        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", KeyFor("dev-1"), null), CancellationToken.None));

        Assert.Equal("csr", exception.Field);
    }

    [Fact]
    public async Task EnrollAsync_CsrWithABadSignature_IsABadRequest()
    {
        var tampered = TestCsr.Pem.Replace("MIH", "MIG", StringComparison.Ordinal);

        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", KeyFor("dev-1"), null, tampered), CancellationToken.None));

        Assert.Equal("csr", exception.Field);
    }

    [Fact]
    public async Task EnrollAsync_AgainForTheSameDevice_KeepsEnrollmentTimeAndDesiredState()
    {
        await _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", KeyFor("dev-1"), null, TestCsr.Pem), CancellationToken.None);
        var enrolledAt = _time.Now;
        var desired = new DesiredState(4, null, new TelemetrySettings(5));
        Assert.True(await _store.SaveDesiredAsync("dev-1", desired, 0, CancellationToken.None));
        _time.Advance(TimeSpan.FromDays(2));

        await _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", KeyFor("dev-1"), null, TestCsr.Pem), CancellationToken.None);

        var device = await _store.GetDeviceAsync("dev-1", CancellationToken.None);
        Assert.Equal(enrolledAt, device!.EnrolledAt);
        Assert.Equal(desired, device.Desired);
    }

    [Fact]
    public async Task IdentifyAsync_CertificateFromAnotherCa_IsRefused()
    {
        await _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", KeyFor("dev-1"), null, TestCsr.Pem), CancellationToken.None);
        using var otherCa = CertificateAuthority.Create("another CA", _time.GetUtcNow().AddDays(-1));
        using var forged = otherCa.IssueDeviceCertificate(TestCsr.Pem, "dev-1", _time.GetUtcNow(), TimeSpan.FromDays(1));

        var (deviceId, reason) = await _enrollment.IdentifyAsync(forged, CancellationToken.None);

        Assert.Null(deviceId);
        Assert.StartsWith("certificate not accepted", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task IdentifyAsync_RevokedDevice_IsRefused()
    {
        var response = await _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", KeyFor("dev-1"), null, TestCsr.Pem), CancellationToken.None);
        await _store.SaveStatusAsync("dev-1", DeviceStatuses.Revoked, _time.GetUtcNow(), CancellationToken.None);
        using var certificate = X509Certificate2.CreateFromPem(response.Certificate);

        var (deviceId, reason) = await _enrollment.IdentifyAsync(certificate, CancellationToken.None);

        Assert.Null(deviceId);
        Assert.Contains("revoked", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EnrollAsync_BootstrapCertificateFromTheTrustedManufacturerCa_Enrolls()
    {
        using var factory = new Manufacturer(_time.GetUtcNow());
        var enrollment = factory.TrustedBy(_store, _trust, _ca, _time);
        var (bootstrapKey, bootstrap) = (factory.Key, factory.Certificate);
        var now = _time.GetUtcNow();
        var proof = BootstrapProof.Sign(bootstrapKey, "dev-factory", now, TestCsr.Pem);

        var response = await enrollment.EnrollAsync(
            new EnrollmentRequest("dev-factory", null, null, TestCsr.Pem, bootstrap.ExportCertificatePem(), proof, now), CancellationToken.None);
        var stolen = await Assert.ThrowsAsync<CredentialRejectedException>(() => enrollment.EnrollAsync(
            new EnrollmentRequest("dev-other", null, null, TestCsr.Pem, bootstrap.ExportCertificatePem(), proof, now), CancellationToken.None));
        var unproven = await Assert.ThrowsAsync<CredentialRejectedException>(() => enrollment.EnrollAsync(
            new EnrollmentRequest("dev-factory", null, null, TestCsr.Pem, bootstrap.ExportCertificatePem(), Convert.ToBase64String(new byte[64]), now), CancellationToken.None));

        Assert.Equal("dev-factory", response.DeviceId);
        Assert.Contains("names 'dev-factory'", stolen.Message, StringComparison.Ordinal);
        Assert.Contains("bootstrapSignature", unproven.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EnrollAsync_BootstrapRequestReplayed_IsRefusedAndSoIsAStaleOne()
    {
        using var factory = new Manufacturer(_time.GetUtcNow());
        var enrollment = factory.TrustedBy(_store, _trust, _ca, _time);
        var (bootstrapKey, bootstrap) = (factory.Key, factory.Certificate);
        var signedAt = _time.GetUtcNow();
        var captured = new EnrollmentRequest(
            "dev-factory", null, null, TestCsr.Pem, bootstrap.ExportCertificatePem(), BootstrapProof.Sign(bootstrapKey, "dev-factory", signedAt, TestCsr.Pem), signedAt);
        await enrollment.EnrollAsync(captured, CancellationToken.None);

        var replayed = await Assert.ThrowsAsync<CredentialRejectedException>(() => enrollment.EnrollAsync(captured, CancellationToken.None));
        _time.Advance(TimeSpan.FromMinutes(6));
        var stale = await Assert.ThrowsAsync<CredentialRejectedException>(() => enrollment.EnrollAsync(captured, CancellationToken.None));
        var fresh = _time.GetUtcNow();
        var again = await enrollment.EnrollAsync(
            captured with { BootstrapSignature = BootstrapProof.Sign(bootstrapKey, "dev-factory", fresh, TestCsr.Pem), BootstrapSignedAt = fresh }, CancellationToken.None);

        Assert.Contains("already used", replayed.Message, StringComparison.Ordinal);
        Assert.Contains("more than 5 minutes", stale.Message, StringComparison.Ordinal);
        Assert.Equal("dev-factory", again.DeviceId);
    }

    [Fact]
    public async Task EnrollAsync_TheGroupKeyItself_IsRefused()
    {
        var refused = await Assert.ThrowsAsync<CredentialRejectedException>(
            () => _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", GroupKey, null, TestCsr.Pem), CancellationToken.None));

        Assert.Contains("not valid", refused.Message, StringComparison.Ordinal);
    }

    private static string KeyFor(string deviceId) => EnrollmentKeys.Derive(GroupKey, deviceId);

    /// <summary>A manufacturer CA, a CA file naming it, and the bootstrap certificate and key it gave <c>dev-factory</c>.</summary>
    private sealed class Manufacturer : IDisposable
    {
        private readonly CertificateAuthority _ca;
        private readonly TempFile _caFile;

        public Manufacturer(DateTimeOffset now)
        {
            _ca = CertificateAuthority.Create("manufacturer", now.AddDays(-1));
            _caFile = new TempFile(_ca.CertificatePem);
            Key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
            var csr = new CertificateRequest("CN=x", Key, System.Security.Cryptography.HashAlgorithmName.SHA256).CreateSigningRequestPem();
            Certificate = _ca.IssueDeviceCertificate(csr, "dev-factory", now, TimeSpan.FromDays(30));
        }

        public System.Security.Cryptography.ECDsa Key { get; }

        public X509Certificate2 Certificate { get; }

        /// <summary>An enrollment service whose <c>Enrollment:BootstrapCaFile</c> names this manufacturer.</summary>
        public EnrollmentService TrustedBy(InMemoryStore store, TestTrustPublisher trust, CertificateAuthority deviceCa, TimeProvider time) => new(
            store, store, trust, deviceCa,
            Options.Create(new EnrollmentOptions { GroupKey = GroupKey, BootstrapCaFile = _caFile.Path }),
            time, NullLogger<EnrollmentService>.Instance);

        public void Dispose()
        {
            Certificate.Dispose();
            Key.Dispose();
            _caFile.Dispose();
            _ca.Dispose();
        }
    }

    private sealed class TempFile : IDisposable
    {
        public TempFile(string content)
        {
            Path = System.IO.Path.GetTempFileName();
            File.WriteAllText(Path, content);
        }

        public string Path { get; }

        public void Dispose() => File.Delete(Path);
    }
}
