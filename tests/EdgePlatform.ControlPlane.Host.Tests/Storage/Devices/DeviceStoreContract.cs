using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage.Devices;

public abstract class DeviceStoreContract(StoreProvider provider) : StoreContract(provider)
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task SaveDesiredAsync_ExpectedVersionIsStale_RefusesAndKeepsTheStoredDocument()
    {
        var store = Stores.Devices;
        await store.UpsertDeviceAsync(Device("dev-1"), CancellationToken.None);
        var first = new DesiredState(1, null, new TelemetrySettings(10));
        Assert.True(await store.SaveDesiredAsync("dev-1", first, 0, CancellationToken.None));

        var refused = await store.SaveDesiredAsync("dev-1", new DesiredState(1, null, new TelemetrySettings(99)), 0, CancellationToken.None);
        var accepted = await store.SaveDesiredAsync("dev-1", new DesiredState(2, null, new TelemetrySettings(20)), 1, CancellationToken.None);

        Assert.False(refused);
        Assert.True(accepted);
        Assert.Equal(new DesiredState(2, null, new TelemetrySettings(20)), (await store.GetDeviceAsync("dev-1", CancellationToken.None))!.Desired);
        Assert.False(await store.SaveDesiredAsync("dev-none", first, 0, CancellationToken.None));
    }

    [Fact]
    public async Task SaveDesiredManyAsync_OneDeviceMovedMeanwhile_TheOthersLandAndItKeepsItsDocument()
    {
        var store = Stores.Devices;
        foreach (var id in new[] { "dev-1", "dev-2", "dev-3" })
        {
            await store.UpsertDeviceAsync(Device(id), CancellationToken.None);
        }

        var other = new DesiredState(1, null, new TelemetrySettings(99));
        Assert.True(await store.SaveDesiredAsync("dev-2", other, 0, CancellationToken.None));
        var next = new DesiredState(1, null, new TelemetrySettings(10));

        var landed = await store.SaveDesiredManyAsync(
            [new("dev-1", next, 0), new("dev-2", next, 0), new("dev-3", next, 0), new("dev-none", next, 0)],
            CancellationToken.None);
        var stored = await store.GetDesiredManyAsync(["dev-1", "dev-2", "dev-3", "dev-none"], CancellationToken.None);

        Assert.Equal(["dev-1", "dev-3"], landed.Order(StringComparer.Ordinal));
        Assert.Equal(next, stored["dev-1"]);
        Assert.Equal(other, stored["dev-2"]);
        Assert.Equal(next, stored["dev-3"]);
        Assert.False(stored.ContainsKey("dev-none"));
    }

    [Fact]
    public async Task SaveDesiredManyAsync_TwoReplicasRacingOnTheSameDevices_EachVersionLandsExactlyOnce()
    {
        const int DeviceCount = 40;
        const int Rounds = 15;
        using var replica = OpenAnotherReplica();
        var ids = Enumerable.Range(0, DeviceCount).Select(i => $"dev-{i:D3}").ToList();
        foreach (var id in ids)
        {
            await Stores.Devices.UpsertDeviceAsync(Device(id), CancellationToken.None);
        }

        for (var version = 1L; version <= Rounds; version++)
        {
            // Each replica writes its own document for every device, in its own order, expecting the same version.
            var fromA = ids.Select(id => new DesiredUpdate(id, new DesiredState(version, null, new TelemetrySettings(1)), version - 1)).ToList();
            var fromB = ids.AsEnumerable().Reverse().Select(id => new DesiredUpdate(id, new DesiredState(version, null, new TelemetrySettings(2)), version - 1)).ToList();

            var landed = await Task.WhenAll(
                Task.Run(() => Stores.Devices.SaveDesiredManyAsync(fromA, CancellationToken.None)),
                Task.Run(() => replica.Devices.SaveDesiredManyAsync(fromB, CancellationToken.None)));

            Assert.Empty(landed[0].Intersect(landed[1]));
            Assert.Equal(DeviceCount, landed[0].Count + landed[1].Count);
            var stored = await replica.Devices.GetDesiredManyAsync(ids, CancellationToken.None);
            Assert.All(ids, id => Assert.Equal(landed[0].Contains(id) ? 1 : 2, stored[id].Telemetry.IntervalSeconds));
        }
    }

    [Fact]
    public async Task FindEnrolledAsync_MoreIdsThanAStatementTakesParameters_ReturnsTheEnrolledOnes()
    {
        var store = Stores.Devices;
        await store.UpsertDeviceAsync(Device("dev-a"), CancellationToken.None);
        await store.UpsertDeviceAsync(Device("dev-b"), CancellationToken.None);
        Assert.True(await store.SaveDesiredAsync("dev-b", new DesiredState(1, null, new TelemetrySettings(10)), 0, CancellationToken.None));

        // Past both SQLite's 32,766 and PostgreSQL's 65,535 parameters per statement.
        var asked = Enumerable.Range(0, 70_000).Select(i => $"unknown-{i}").Append("dev-a").Append("dev-b").ToList();

        Assert.Equal(["dev-a", "dev-b"], (await store.FindEnrolledAsync(asked, CancellationToken.None)).Order(StringComparer.Ordinal));
        Assert.Equal(["dev-b"], (await store.GetDesiredManyAsync(asked, CancellationToken.None)).Keys);
        Assert.Empty(await store.FindEnrolledAsync([], CancellationToken.None));
    }

    [Fact]
    public async Task UpsertDeviceAsync_ReEnrollment_ReplacesCredentialAndTagsButKeepsTwinAndStatus()
    {
        var store = Stores.Devices;
        await store.UpsertDeviceAsync(Device("dev-1"), CancellationToken.None);
        var desired = new DesiredState(3, new DeploymentSpec("dep-1", new ModelReference("models/m", "m", "1", "sha256:" + new string('a', 64), 10, "c2ln")), new TelemetrySettings(10));
        Assert.True(await store.SaveDesiredAsync("dev-1", desired, 0, CancellationToken.None));
        await store.SaveStatusAsync("dev-1", DeviceStatuses.Online, Now.AddMinutes(1), CancellationToken.None);

        await store.UpsertDeviceAsync(Device("dev-1") with { CertificateThumbprint = "new-hash", Tags = new Dictionary<string, string> { ["site"] = "b" }, EnrolledAt = Now.AddDays(1) }, CancellationToken.None);

        var device = (await store.GetDeviceAsync("dev-1", CancellationToken.None))!;
        Assert.Equal("new-hash", device.CertificateThumbprint);
        Assert.Equal("b", device.Tags["site"]);
        Assert.Equal(desired, device.Desired);
        Assert.Equal(DeviceStatuses.Online, device.Status);
        Assert.Equal(Now, device.EnrolledAt);
        Assert.Equal(Now.AddMinutes(1), device.LastSeen);
    }

    [Fact]
    public async Task SaveReportedAsync_Document_RoundTrips()
    {
        var store = Stores.Devices;
        await store.UpsertDeviceAsync(Device("dev-1"), CancellationToken.None);
        var reported = new ReportedState("1.2.3", 3, [new ModelSlotReport(ModelSlots.Primary, "m", "1", "sha256:" + new string('a', 64), ModelSlotStates.Active, Now)], "none", Now);

        await store.SaveReportedAsync("dev-1", reported, Now.AddSeconds(1), CancellationToken.None);

        var device = (await store.GetDeviceAsync("dev-1", CancellationToken.None))!;
        Assert.Equal(reported with { Slots = [] }, device.Reported! with { Slots = [] });
        Assert.Equal(reported.Slots, device.Reported.Slots);
        Assert.Equal(Now.AddSeconds(1), device.LastSeen);
        Assert.Equal(["dev-1"], (await store.ListDevicesAsync(CancellationToken.None)).Select(d => d.Id));
    }

    [Fact]
    public async Task SaveReportedAsync_OlderReportArrivesAfterANewerOne_KeepsTheNewer()
    {
        var store = Stores.Devices;
        await store.UpsertDeviceAsync(Device("dev-1"), CancellationToken.None);
        ReportedState Report(string state, DateTimeOffset at) =>
            new("1.2.3", 3, [new ModelSlotReport(ModelSlots.Primary, "m", "1", "sha256:" + new string('a', 64), state, at)], null, at);

        // Another replica's backlog hands in the staged report after the active one was stored.
        await store.SaveReportedAsync("dev-1", Report(ModelSlotStates.Active, Now.AddSeconds(2)), Now.AddSeconds(3), CancellationToken.None);
        await store.SaveReportedAsync("dev-1", Report(ModelSlotStates.Staged, Now.AddSeconds(1)), Now.AddSeconds(4), CancellationToken.None);
        await store.SaveReportedAsync("missing", Report(ModelSlotStates.Staged, Now), Now, CancellationToken.None);

        var device = (await store.GetDeviceAsync("dev-1", CancellationToken.None))!;
        Assert.Equal(ModelSlotStates.Active, Assert.Single(device.Reported!.Slots).State);
        Assert.Equal(Now.AddSeconds(4), device.LastSeen);
    }

    [Fact]
    public async Task ListDevicesAfterAsync_PagesThroughTheFleet_EachDeviceOnceInIdOrder()
    {
        var store = Stores.Devices;
        var ids = Enumerable.Range(0, 7).Select(i => $"dev-{i:D2}").Reverse().ToList();
        foreach (var id in ids)
        {
            await store.UpsertDeviceAsync(Device(id), CancellationToken.None);
        }

        var seen = new List<string>();
        string? after = null;
        int pages = 0;
        while (true)
        {
            var page = await store.ListDevicesAfterAsync(after, 3, CancellationToken.None);
            if (page.Count == 0)
            {
                break;
            }

            pages++;
            seen.AddRange(page.Select(d => d.Id));
            after = page[^1].Id;
        }

        Assert.Equal(ids.Order(StringComparer.Ordinal), seen);
        Assert.Equal(3, pages);
    }

    private static DeviceRecord Device(string id) =>
        new(id, new Dictionary<string, string> { ["site"] = "a" }, "hash", Now, DeviceStatuses.NeverConnected, null, null, null);
}

public sealed class SqliteDeviceStoreTests() : DeviceStoreContract(StoreProvider.Sqlite);

[Trait("Category", "Integration")]
public sealed class PostgresDeviceStoreTests() : DeviceStoreContract(StoreProvider.Postgres);
