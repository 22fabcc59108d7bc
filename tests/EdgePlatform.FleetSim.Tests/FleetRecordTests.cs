using EdgePlatform.Contracts;

namespace EdgePlatform.FleetSim.Tests;

public sealed class FleetRecordTests
{
    private static readonly ModelReference Version2 = new("models/m", "m", "2", "sha256:" + new string('2', 64), 500, "sig");
    private static readonly DateTimeOffset At = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void DevicesTold_OnlyDevicesWhoseDesiredStateNamedTheVersion()
    {
        var record = new FleetRecord();
        record.Told("a", new DesiredState(1, null, TelemetrySettings.Default), At);
        record.Told("b", new DesiredState(2, new DeploymentSpec("ro-1", Version2), TelemetrySettings.Default), At.AddSeconds(5));
        record.Told("b", new DesiredState(3, null, TelemetrySettings.Default), At.AddSeconds(9));

        Assert.Equal(["b"], record.DevicesTold(Version2.ManifestDigest));
        Assert.Equal(At.AddSeconds(5), record.FirstTold("b", Version2.ManifestDigest));
        Assert.Null(record.FirstTold("a", Version2.ManifestDigest));
        Assert.Equal(3, record.DesiredStatesReceived);
    }

    [Fact]
    public void RepeatedDownloads_ADigestCompletedTwiceByOneDevice_IsListed()
    {
        var record = new FleetRecord();
        Download(record, "a", "sha256:x", 100);
        Download(record, "b", "sha256:x", 100);
        Download(record, "b", "sha256:x", 100);
        var partial = record.Download("c", "sha256:x");
        partial.Add(40);

        Assert.Equal([("b", "sha256:x", 2)], record.RepeatedDownloads());
        Assert.Equal(340, record.BytesDownloaded);
        Assert.Equal(3, record.CompletedDownloads);
        Assert.Equal(["a", "b", "c"], record.DevicesThatDownloaded("sha256:x").Order(StringComparer.Ordinal));
    }

    private static void Download(FleetRecord record, string device, string digest, long bytes)
    {
        var counter = record.Download(device, digest);
        counter.Add(bytes);
        counter.Complete();
    }
}
