using System.Text;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Tests.Fakes;
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
        _enrollment = new EnrollmentService(_store, _store, _trust, options, _time, NullLogger<EnrollmentService>.Instance);
    }

    public void Dispose() => _trust.Dispose();

    [Fact]
    public async Task EnrollAsync_KeyDerivedFromAGroupForThisDevice_Enrolls()
    {
        var group = await _enrollment.CreateGroupAsync(new CreateEnrollmentGroupRequest("plant-a"), CancellationToken.None);

        var response = await _enrollment.EnrollAsync(new EnrollmentRequest("dev-derived", EdgePlatform.Security.EnrollmentKeys.Derive(group.Key!, "dev-derived"), null), CancellationToken.None);

        Assert.Equal("dev-derived", response.DeviceId);
    }

    [Fact]
    public async Task EnrollAsync_KeyDerivedForAnotherDevice_IsRejected()
    {
        var group = await _enrollment.CreateGroupAsync(new CreateEnrollmentGroupRequest("plant-a"), CancellationToken.None);
        var othersKey = EdgePlatform.Security.EnrollmentKeys.Derive(group.Key!, "dev-other");

        await Assert.ThrowsAsync<CredentialRejectedException>(
            () => _enrollment.EnrollAsync(new EnrollmentRequest("dev-thief", othersKey, null), CancellationToken.None));
    }

    [Fact]
    public async Task EnrollAsync_KeyFromARevokedGroup_IsRejected()
    {
        var group = await _enrollment.CreateGroupAsync(new CreateEnrollmentGroupRequest("batch-7"), CancellationToken.None);
        await _enrollment.RevokeGroupAsync(group.Id, CancellationToken.None);

        await Assert.ThrowsAsync<CredentialRejectedException>(
            () => _enrollment.EnrollAsync(new EnrollmentRequest("dev-late", EdgePlatform.Security.EnrollmentKeys.Derive(group.Key!, "dev-late"), null), CancellationToken.None));
        Assert.Null((await _enrollment.ListGroupsAsync(CancellationToken.None)).Single().Key);
    }

    [Fact]
    public async Task EnrollAsync_RightKey_ReturnsConnectionDetailsAndAWorkingCredential()
    {
        var response = await _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", GroupKey, new Dictionary<string, string> { ["site"] = "plant-a" }), CancellationToken.None);

        Assert.Equal("dev-1", response.DeviceId);
        Assert.Equal("broker.local", response.MqttHost);
        Assert.Equal(8883, response.MqttPort);
        Assert.Equal("http://registry.local:5080", response.RegistryUrl);
        Assert.Equal("http://metadata.local:5080", response.MetadataUrl);
        Assert.True(response.MqttPassword.Length >= 40, "a 256-bit secret");
        Assert.True(await _enrollment.ValidateCredentialAsync("dev-1", response.MqttPassword, CancellationToken.None));

        var stored = await _store.GetDeviceAsync("dev-1", CancellationToken.None);
        Assert.NotNull(stored);
        Assert.Equal("plant-a", stored.Tags["site"]);
        Assert.Equal(DeviceStatuses.NeverConnected, stored.Status);
        Assert.DoesNotContain(response.MqttPassword, stored.CredentialHash, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EnrollAsync_RightKey_ReturnsTheCurrentRootForTheDeviceToPin()
    {
        var response = await _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", GroupKey, null), CancellationToken.None);

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

        var response = await _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", GroupKey, null), CancellationToken.None);

        Assert.Equal(2, TufClient.Pin(_trust.DeviceDirectory("dev-1"), Encoding.UTF8.GetBytes(response.TrustedRoot)).Version);
    }

    [Fact]
    public async Task EnrollAsync_WrongKey_ThrowsCredentialRejectedAndStoresNothing()
    {
        var exception = await Assert.ThrowsAsync<CredentialRejectedException>(
            () => _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", GroupKey[..^1] + "0", null), CancellationToken.None));

        Assert.Equal("the enrollment key is not valid", exception.Message);
        Assert.Null(await _store.GetDeviceAsync("dev-1", CancellationToken.None));
    }

    [Fact]
    public async Task EnrollAsync_KeyThatIsAPrefixOfTheRightOne_ThrowsCredentialRejected()
    {
        await Assert.ThrowsAsync<CredentialRejectedException>(
            () => _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", GroupKey[..8], null), CancellationToken.None));
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
            () => _enrollment.EnrollAsync(new EnrollmentRequest(deviceId, GroupKey, null), CancellationToken.None));

        Assert.Equal("deviceId", exception.Field);
        Assert.Equal(DeviceIds.Describe(deviceId), exception.Problem);
    }

    [Fact]
    public async Task EnrollAsync_InvalidDeviceIdAndWrongKey_ReportsTheIdFirst()
    {
        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _enrollment.EnrollAsync(new EnrollmentRequest("BAD", "wrong", null), CancellationToken.None));

        Assert.Equal("deviceId", exception.Field);
    }

    [Fact]
    public async Task EnrollAsync_NoKey_ThrowsValidationNamingEnrollmentKey()
    {
        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", "", null), CancellationToken.None));

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
            () => _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", GroupKey, tags), CancellationToken.None));

        Assert.Equal("tags", exception.Field);
    }

    [Fact]
    public async Task EnrollAsync_TagValueTooLong_ThrowsValidationNamingTags()
    {
        var tags = new Dictionary<string, string> { ["site"] = new string('x', 257) };

        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", GroupKey, tags), CancellationToken.None));

        Assert.Equal("tags", exception.Field);
        Assert.Contains("'site'", exception.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EnrollAsync_AgainForTheSameDevice_ReplacesTheCredential()
    {
        var first = await _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", GroupKey, null), CancellationToken.None);
        _time.Advance(TimeSpan.FromHours(1));

        var second = await _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", GroupKey, null), CancellationToken.None);

        Assert.NotEqual(first.MqttPassword, second.MqttPassword);
        Assert.False(await _enrollment.ValidateCredentialAsync("dev-1", first.MqttPassword, CancellationToken.None));
        Assert.True(await _enrollment.ValidateCredentialAsync("dev-1", second.MqttPassword, CancellationToken.None));
    }

    [Fact]
    public async Task EnrollAsync_AgainForTheSameDevice_KeepsEnrollmentTimeAndDesiredState()
    {
        await _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", GroupKey, null), CancellationToken.None);
        var enrolledAt = _time.Now;
        var desired = new DesiredState(4, null, new TelemetrySettings(5));
        await _store.SaveDesiredAsync("dev-1", desired, CancellationToken.None);
        _time.Advance(TimeSpan.FromDays(2));

        await _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", GroupKey, null), CancellationToken.None);

        var device = await _store.GetDeviceAsync("dev-1", CancellationToken.None);
        Assert.Equal(enrolledAt, device!.EnrolledAt);
        Assert.Equal(desired, device.Desired);
    }

    [Fact]
    public async Task ValidateCredentialAsync_AnotherDevicesSecret_False()
    {
        var one = await _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", GroupKey, null), CancellationToken.None);
        await _enrollment.EnrollAsync(new EnrollmentRequest("dev-2", GroupKey, null), CancellationToken.None);

        Assert.False(await _enrollment.ValidateCredentialAsync("dev-2", one.MqttPassword, CancellationToken.None));
    }

    [Theory]
    [InlineData("dev-9", "whatever")]
    [InlineData("dev-1", "")]
    [InlineData("dev-1", null)]
    [InlineData("DEV-1", "whatever")]
    public async Task ValidateCredentialAsync_UnknownDeviceOrMissingSecret_False(string deviceId, string? secret)
    {
        await _enrollment.EnrollAsync(new EnrollmentRequest("dev-1", GroupKey, null), CancellationToken.None);

        Assert.False(await _enrollment.ValidateCredentialAsync(deviceId, secret, CancellationToken.None));
    }
}
