using EdgePlatform.ControlPlane.Telemetry;
using EdgePlatform.ControlPlane.Tests.Fakes;
using Microsoft.Extensions.Options;

namespace EdgePlatform.ControlPlane.Tests.Telemetry;

public class TelemetryQueryServiceTests
{
    private readonly InMemoryStore _store = new();
    private readonly TelemetryQueryService _query;

    public TelemetryQueryServiceTests()
    {
        _query = new TelemetryQueryService(_store, _store, Options.Create(new TelemetryStoreOptions { MaxQueryRows = 500 }));
        _store.AddDevice("dev-1");
    }

    [Fact]
    public async Task QueryAsync_Group_ResolvesToTheDevicesTaggedWithIt()
    {
        await _store.UpsertDeviceAsync(_store.AddDevice("dev-2") with { Tags = new Dictionary<string, string> { ["group"] = "north" } }, CancellationToken.None);
        await _store.UpsertDeviceAsync(_store.AddDevice("dev-3") with { Tags = new Dictionary<string, string> { ["group"] = "south" } }, CancellationToken.None);

        await _query.QueryAsync(new TelemetryQuery(Group: "north"), CancellationToken.None);

        Assert.Equal(["dev-2"], _store.LastFilter!.DeviceIds!);
    }

    [Fact]
    public async Task QueryAsync_LimitAboveTheMaximum_IsCappedAtIt()
    {
        await _query.QueryAsync(new TelemetryQuery(Limit: 1_000_000, Resolution: "raw"), CancellationToken.None);

        Assert.Equal(500, _store.LastFilter!.Limit);
        Assert.Null(_store.LastFilter.DeviceIds);
    }

    [Theory]
    [InlineData("events", null, null, "kind")]
    [InlineData("perf", "both", null, "arm")]
    [InlineData("health", "candidate", null, "arm")]
    [InlineData(null, "control", null, "arm")]
    [InlineData("quality", null, "hourly", "resolution")]
    public async Task QueryAsync_BadKindArmOrResolution_NamesTheParameter(string? kind, string? arm, string? resolution, string field)
    {
        var exception = await Assert.ThrowsAsync<RequestValidationException>(
            () => _query.QueryAsync(new TelemetryQuery(Kind: kind, Arm: arm, Resolution: resolution), CancellationToken.None));

        Assert.Equal(field, exception.Field);
    }

    [Fact]
    public async Task QueryAsync_PerfOfOneArm_AsksTheStoreForThatArmsMinutes()
    {
        var result = await _query.QueryAsync(new TelemetryQuery(Kind: "perf", Arm: "candidate", Device: "dev-1"), CancellationToken.None);

        Assert.Equal(("perf", "minute"), (result.Kind, result.Resolution));
        Assert.Equal("candidate", _store.LastFilter!.Arm);
        Assert.Equal(["dev-1"], _store.LastFilter.DeviceIds!);
    }

    [Theory]
    [InlineData("hourly", null, null, "resolution")]
    [InlineData(null, "2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z", "to")]
    public async Task QueryAsync_BadFilter_NamesTheField(string? resolution, string? from, string? to, string field)
    {
        var query = new TelemetryQuery(
            Resolution: resolution,
            From: from is null ? null : DateTimeOffset.Parse(from, System.Globalization.CultureInfo.InvariantCulture),
            To: to is null ? null : DateTimeOffset.Parse(to, System.Globalization.CultureInfo.InvariantCulture));

        var exception = await Assert.ThrowsAsync<RequestValidationException>(() => _query.QueryAsync(query, CancellationToken.None));

        Assert.Equal(field, exception.Field);
    }

    [Fact]
    public async Task QueryAsync_InvalidDeviceId_NamesTheDeviceField()
    {
        var exception = await Assert.ThrowsAsync<RequestValidationException>(() => _query.QueryAsync(new TelemetryQuery(Device: "Bad Id"), CancellationToken.None));

        Assert.Equal("device", exception.Field);
    }
}
