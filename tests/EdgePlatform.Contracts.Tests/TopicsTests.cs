namespace EdgePlatform.Contracts.Tests;

public class TopicsTests
{
    [Theory]
    [InlineData("devices/dev-1/twin/reported", "dev-1", "twin/reported")]
    [InlineData("devices/dev-1/telemetry/perf", "dev-1", "telemetry/perf")]
    [InlineData("devices/dev-1/status", "dev-1", "status")]
    [InlineData("devices/dev-1/", "dev-1", "")]
    public void TryParseDeviceTopic_DeviceTopic_SplitsIdAndRest(string topic, string expectedId, string expectedRest)
    {
        Assert.True(Topics.TryParseDeviceTopic(topic, out var deviceId, out var rest));
        Assert.Equal(expectedId, deviceId);
        Assert.Equal(expectedRest, rest);
    }

    [Theory]
    [InlineData("")]
    [InlineData("devices")]
    [InlineData("devices/")]
    [InlineData("devices/dev-1")]
    [InlineData("devices//status")]
    [InlineData("devicesx/dev-1/status")]
    [InlineData("Devices/dev-1/status")]
    [InlineData("other/dev-1/status")]
    [InlineData("/devices/dev-1/status")]
    public void TryParseDeviceTopic_OutsideTheDeviceTree_False(string topic)
    {
        Assert.False(Topics.TryParseDeviceTopic(topic, out var deviceId, out var rest));
        Assert.Equal(string.Empty, deviceId);
        Assert.Equal(string.Empty, rest);
    }

    [Fact]
    public void TryParseDeviceTopic_BuiltTopics_ParseBackToTheirDevice()
    {
        Assert.True(Topics.TryParseDeviceTopic(Topics.Telemetry("gw-7", TelemetryKinds.Health), out var id, out var rest));
        Assert.Equal(("gw-7", "telemetry/health"), (id, rest));

        Assert.True(Topics.TryParseDeviceTopic(Topics.Desired("gw-7"), out id, out rest));
        Assert.Equal(("gw-7", "twin/desired"), (id, rest));
    }

    [Fact]
    public void DeviceFilter_CoversOnlyTheDevicesOwnTree()
    {
        Assert.Equal("devices/gw-7/#", Topics.DeviceFilter("gw-7"));
        Assert.StartsWith("devices/gw-7/", Topics.Reported("gw-7"), StringComparison.Ordinal);
        Assert.StartsWith("devices/gw-7/", Topics.Status("gw-7"), StringComparison.Ordinal);
    }
}
