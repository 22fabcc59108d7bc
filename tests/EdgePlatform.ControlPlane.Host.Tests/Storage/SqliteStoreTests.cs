using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Ports;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage;

public sealed class SqliteStoreTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly TempDatabase _database = new();

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task AddTelemetryAsync_SameDeviceAndSequenceTwice_StoresTheFirstOnly()
    {
        var store = new SqliteStore(_database.Path);
        var record = Telemetry(7, eventsIn: 100);

        Assert.Single(await store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [record], Now, CancellationToken.None));
        Assert.Empty(await store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [record with { EventsIn = 999 }], Now.AddSeconds(5), CancellationToken.None));
        Assert.Single(await store.AddTelemetryAsync("dev-2", TelemetryKinds.Health, [record], Now, CancellationToken.None));

        var summary = Assert.Single(await store.SummarizeAsync("dev-1", CancellationToken.None));
        Assert.Equal(1, summary.Reports);
        Assert.Equal(100, summary.Latest.EventsIn);
        Assert.Equal(Now, summary.LastReceived);
        Assert.Equal(2, _database.Scalar("SELECT COUNT(*) FROM telemetry"));
    }

    [Fact]
    public async Task SummarizeAsync_SeveralReports_SumsCountersAndKeepsTheLatestRest()
    {
        var store = new SqliteStore(_database.Path);
        await store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [Telemetry(1, eventsIn: 10) with { ModelVersion = "1" }], Now, CancellationToken.None);
        await store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [Telemetry(3, eventsIn: 30) with { ModelVersion = "2", ModelName = null }], Now.AddSeconds(20), CancellationToken.None);
        await store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [Telemetry(2, eventsIn: 20)], Now.AddSeconds(10), CancellationToken.None);

        var summary = Assert.Single(await store.SummarizeAsync(null, CancellationToken.None));

        Assert.Equal(3, summary.Reports);
        Assert.Equal(3, summary.LastSequence);
        Assert.Equal(60, summary.Latest.EventsIn);
        Assert.Equal("2", summary.Latest.ModelVersion);
        Assert.Null(summary.Latest.ModelName);
        Assert.Equal(Now.AddSeconds(20), summary.LastReceived);
    }

    private static TelemetryRecord Telemetry(long sequence, long eventsIn) =>
        new(sequence, Now.AddSeconds(sequence), "m", "1", null, eventsIn, eventsIn, 0, 0, 1.5, 2.5, 3.5, 12.5, 4096);
}
