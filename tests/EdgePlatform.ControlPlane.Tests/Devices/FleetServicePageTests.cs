using EdgePlatform.ControlPlane.Devices;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Tests.Fakes;
using Microsoft.Extensions.Logging.Abstractions;
using NSubstitute;

namespace EdgePlatform.ControlPlane.Tests.Devices;

public class FleetServicePageTests
{
    private readonly InMemoryStore _store = new();
    private readonly FleetService _fleet;

    public FleetServicePageTests()
    {
        _fleet = new FleetService(
            _store,
            Substitute.For<IDeviceSessions>(),
            Microsoft.Extensions.Options.Options.Create(new EnrollmentOptions()),
            new FakeTimeProvider(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero)),
            NullLogger<FleetService>.Instance);
    }

    [Fact]
    public async Task PageAsync_SelectorMatchingEveryThirdDeviceAcrossManySlices_PagesThroughEachMatchOnceInOrder()
    {
        for (var i = 0; i < 2000; i++)
        {
            await AddAsync($"dev-{i:D4}", i % 3 == 0 ? "berlin" : "paris");
        }

        var seen = new List<string>();
        string? after = null;
        var pages = 0;
        do
        {
            var page = await _fleet.PageAsync("site=berlin", after, 100, CancellationToken.None);
            Assert.InRange(page.Devices.Count, 1, 100);
            seen.AddRange(page.Devices.Select(d => d.Id));
            after = page.NextAfter;
            pages++;
        }
        while (after is not null);

        var expected = Enumerable.Range(0, 2000).Where(i => i % 3 == 0).Select(i => $"dev-{i:D4}").ToList();
        Assert.Equal(expected, seen);
        Assert.Equal(7, pages);
    }

    [Fact]
    public async Task PageAsync_NoSelector_ReadsOnlyOnePageFromTheStore()
    {
        var store = Substitute.For<IDeviceStore>();
        store.ListDevicesAfterAsync(Arg.Any<string?>(), Arg.Any<int>(), Arg.Any<CancellationToken>()).Returns([]);
        var fleet = new FleetService(store, Substitute.For<IDeviceSessions>(), Microsoft.Extensions.Options.Options.Create(new EnrollmentOptions()), TimeProvider.System, NullLogger<FleetService>.Instance);

        var page = await fleet.PageAsync(null, "dev-0100", 50, CancellationToken.None);

        Assert.Empty(page.Devices);
        Assert.Null(page.NextAfter);
        await store.Received(1).ListDevicesAfterAsync("dev-0100", 51, Arg.Any<CancellationToken>());
        await store.DidNotReceive().ListDevicesAsync(Arg.Any<CancellationToken>());
    }

    [Fact]
    public async Task PageAsync_FleetOfWholePages_LastPageSaysNoneFollows()
    {
        for (var i = 0; i < 20; i++)
        {
            await AddAsync($"dev-{i:D2}", "berlin");
        }

        var first = await _fleet.PageAsync(null, null, 10, CancellationToken.None);
        var second = await _fleet.PageAsync(null, first.NextAfter, 10, CancellationToken.None);

        Assert.Equal("dev-09", first.NextAfter);
        Assert.Equal(10, second.Devices.Count);
        Assert.Null(second.NextAfter);
    }

    [Theory]
    [InlineData("site=", "selector")]
    [InlineData("site = berlin and (", "selector")]
    public async Task PageAsync_BadSelector_RefusedNamingTheField(string selector, string field)
    {
        var ex = await Assert.ThrowsAsync<RequestValidationException>(() => _fleet.PageAsync(selector, null, 10, CancellationToken.None));

        Assert.Equal(field, ex.Field);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(FleetService.MaxPageSize + 1)]
    public async Task PageAsync_LimitOutOfRange_Refused(int limit) =>
        await Assert.ThrowsAsync<RequestValidationException>(() => _fleet.PageAsync(null, null, limit, CancellationToken.None));

    private Task AddAsync(string id, string site) =>
        _store.UpsertDeviceAsync(
            new DeviceRecord(id, new Dictionary<string, string> { ["site"] = site }, "hash", DateTimeOffset.UnixEpoch, Contracts.DeviceStatuses.NeverConnected, null, null, null),
            CancellationToken.None);
}
