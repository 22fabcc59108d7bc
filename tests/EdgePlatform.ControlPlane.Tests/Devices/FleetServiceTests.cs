using System.Text;
using System.Text.Json;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Tests.Fakes;
using EdgePlatform.ControlPlane.Ports;
using Microsoft.Extensions.Logging.Abstractions;
using NSubstitute;

namespace EdgePlatform.ControlPlane.Tests.Devices;

public class FleetServiceTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly InMemoryStore _store = new();
    private readonly IDeviceSessions _sessions = Substitute.For<IDeviceSessions>();
    private readonly FleetService _fleet;

    public FleetServiceTests()
    {
        _fleet = new FleetService(_store, _sessions, Microsoft.Extensions.Options.Options.Create(new EnrollmentOptions()), _time, NullLogger<FleetService>.Instance);
        _store.AddDevice("dev-1");
    }

    [Theory]
    [InlineData("{")]
    [InlineData("not json at all")]
    [InlineData("")]
    [InlineData("null")]
    [InlineData("[1, 2, 3]")]
    [InlineData("{}")]
    [InlineData("""{"slots": 5}""")]
    [InlineData("""{"desiredVersion": "seven", "slots": []}""")]
    [InlineData("""{"desiredVersion": 99999999999999999999999, "slots": []}""")]
    [InlineData("""{"reportedAt": "yesterday", "slots": []}""")]
    public async Task HandleReportedAsync_MalformedDocument_DropsItWithoutThrowing(string payload)
    {
        await _fleet.HandleReportedAsync("dev-1", Encoding.UTF8.GetBytes(payload), CancellationToken.None);

        var device = await _store.GetDeviceAsync("dev-1", CancellationToken.None);
        Assert.Null(device!.Reported);
        Assert.Null(device.LastSeen);
    }

    [Fact]
    public async Task HandleReportedAsync_InvalidUtf8_DropsItWithoutThrowing()
    {
        await _fleet.HandleReportedAsync("dev-1", new byte[] { 0xFF, 0xFE, 0x7B, 0x00 }, CancellationToken.None);

        Assert.Null((await _store.GetDeviceAsync("dev-1", CancellationToken.None))!.Reported);
    }

    [Fact]
    public async Task HandleReportedAsync_ValidDocument_StoresItWithTheReceiveTime()
    {
        var reported = new ReportedState("1.0.0", 3, [new ModelSlotReport(ModelSlots.Primary, "m", "2", "sha256:" + new string('b', 64), ModelSlotStates.Active, _time.Now)], null, _time.Now);

        await _fleet.HandleReportedAsync("dev-1", JsonSerializer.SerializeToUtf8Bytes(reported, ContractsJsonContext.Default.ReportedState), CancellationToken.None);

        var info = await _fleet.GetAsync("dev-1", CancellationToken.None);
        Assert.Equal(3, info.Reported!.DesiredVersion);
        Assert.Equal("2", Assert.Single(info.Reported.Slots).Version);
        Assert.Equal(_time.Now, info.LastSeen);
    }

    [Fact]
    public async Task HandleReportedAsync_UnknownDevice_CreatesNothing()
    {
        var reported = new ReportedState("1.0.0", 1, [], null, _time.Now);

        await _fleet.HandleReportedAsync("dev-9", JsonSerializer.SerializeToUtf8Bytes(reported, ContractsJsonContext.Default.ReportedState), CancellationToken.None);

        Assert.Null(await _store.GetDeviceAsync("dev-9", CancellationToken.None));
    }

    [Fact]
    public async Task GetAsync_SilentForTwoHeartbeatIntervals_ShowsOfflineThoughNoWillArrived()
    {
        // Default heartbeat (telemetry) interval: 10 s, so the lease is 20 s.
        await _fleet.HandleStatusAsync("dev-1", "online"u8.ToArray(), CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(20));
        var atLease = await _fleet.GetAsync("dev-1", CancellationToken.None);
        _time.Advance(TimeSpan.FromMilliseconds(1));

        var afterLease = await _fleet.GetAsync("dev-1", CancellationToken.None);

        Assert.Equal(DeviceStatuses.Online, atLease.Status);
        Assert.Equal(DeviceStatuses.Offline, afterLease.Status);
    }

    [Fact]
    public async Task GetAsync_TelemetryKeepsArriving_LeaseRenewedAndDeviceStaysOnline()
    {
        await _fleet.HandleStatusAsync("dev-1", "online"u8.ToArray(), CancellationToken.None);
        for (var i = 0; i < 5; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(10));
            await _store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [], _time.Now, CancellationToken.None);
        }

        _time.Advance(TimeSpan.FromSeconds(15));

        Assert.Equal(DeviceStatuses.Online, (await _fleet.GetAsync("dev-1", CancellationToken.None)).Status);
    }

    [Fact]
    public async Task ListAsync_DesiredStateSetsALongerInterval_LeaseFollowsIt()
    {
        _store.AddDevice("dev-2", new DesiredState(1, null, new TelemetrySettings(60)));
        await _fleet.HandleStatusAsync("dev-2", "online"u8.ToArray(), CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(119));

        var device = (await _fleet.ListAsync(CancellationToken.None)).Single(d => d.Id == "dev-2");

        Assert.Equal(DeviceStatuses.Online, device.Status);
    }

    [Fact]
    public async Task HandleStatusAsync_Online_RecordsStatusAndLastSeen()
    {
        await _fleet.HandleStatusAsync("dev-1", "online\n"u8.ToArray(), CancellationToken.None);

        var info = await _fleet.GetAsync("dev-1", CancellationToken.None);
        Assert.Equal(DeviceStatuses.Online, info.Status);
        Assert.Equal(_time.Now, info.LastSeen);
    }

    [Fact]
    public async Task HandleStatusAsync_UnknownWord_IsIgnored()
    {
        await _fleet.HandleStatusAsync("dev-1", "rebooting"u8.ToArray(), CancellationToken.None);

        Assert.Equal(DeviceStatuses.NeverConnected, (await _fleet.GetAsync("dev-1", CancellationToken.None)).Status);
    }

    [Theory]
    [InlineData("dev-9")]
    [InlineData("NOT/VALID")]
    public async Task GetAsync_UnknownOrInvalidId_ThrowsNotFoundNamingTheDevice(string id)
    {
        var exception = await Assert.ThrowsAsync<NotFoundException>(() => _fleet.GetAsync(id, CancellationToken.None));

        Assert.Equal($"device '{id}' is not enrolled", exception.Message);
    }

    [Fact]
    public async Task RevokeAsync_EnrolledDevice_MarksItRevokedAndClosesItsSession()
    {
        var device = await _fleet.RevokeAsync("dev-1", "olga", CancellationToken.None);

        Assert.Equal(DeviceStatuses.Revoked, device.Status);
        Assert.Equal(DeviceStatuses.Revoked, (await _fleet.GetAsync("dev-1", CancellationToken.None)).Status);
        await _sessions.Received(1).CloseAsync("dev-1", Arg.Any<CancellationToken>());
    }

    [Fact]
    public async Task HandleStatusAsync_OfflineWillAfterRevocation_KeepsTheDeviceRevoked()
    {
        await _fleet.RevokeAsync("dev-1", "olga", CancellationToken.None);

        await _fleet.HandleStatusAsync("dev-1", Encoding.UTF8.GetBytes(DeviceStatuses.Offline), CancellationToken.None);

        Assert.Equal(DeviceStatuses.Revoked, (await _fleet.GetAsync("dev-1", CancellationToken.None)).Status);
    }

    [Fact]
    public async Task RevokeAsync_UnknownDevice_ThrowsNotFound()
    {
        await Assert.ThrowsAsync<NotFoundException>(() => _fleet.RevokeAsync("nope", "olga", CancellationToken.None));
    }
}
