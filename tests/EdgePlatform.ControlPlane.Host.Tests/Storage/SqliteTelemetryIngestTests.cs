using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Telemetry;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage;

/// <summary>Telemetry ingest over the store the server really uses.</summary>
public sealed class SqliteTelemetryIngestTests : IAsyncLifetime, IDisposable
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly TempDatabase _database = new();
    private readonly SqliteStore _store;
    private readonly TelemetryIngestService _ingest;

    public SqliteTelemetryIngestTests()
    {
        _store = new SqliteStore(_database.Path);
        _ingest = new TelemetryIngestService(_store, _store, TimeProvider.System, NullLogger<TelemetryIngestService>.Instance);
    }

    public Task InitializeAsync() =>
        _store.UpsertDeviceAsync(new DeviceRecord("dev-1", new Dictionary<string, string>(), "h", Now, DeviceStatuses.Online, null, null, null), CancellationToken.None);

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task IngestAsync_RedeliveredBatch_CountsDuplicatesAndSumsEachReportOnce()
    {
        var batch = TelemetryArrow.Serialize("dev-1", [Report(1, 10), Report(2, 20)]);

        await _ingest.IngestAsync("dev-1", TelemetryKinds.Perf, batch, CancellationToken.None);
        var again = await _ingest.IngestAsync("dev-1", TelemetryKinds.Perf, batch, CancellationToken.None);
        await _ingest.IngestAsync("dev-1", TelemetryKinds.Perf, TelemetryArrow.Serialize("dev-1", [Report(2, 20), Report(3, 30)]), CancellationToken.None);

        Assert.Equal(new TelemetryIngestResult(0, 2, null), again);
        Assert.Equal((3L, 3L), (_ingest.Accepted, _ingest.Duplicates));
        var summary = Assert.Single(await _ingest.SummarizeAsync("dev-1", CancellationToken.None));
        Assert.Equal(3, summary.Reports);
        Assert.Equal(60, summary.Latest.EventsIn);
    }

    [Fact]
    public async Task IngestAsync_BatchForAnotherDevice_StoresNothing()
    {
        var result = await _ingest.IngestAsync("dev-1", TelemetryKinds.Perf, TelemetryArrow.Serialize("dev-2", [Report(1, 10)]), CancellationToken.None);

        Assert.NotNull(result.RejectedBecause);
        Assert.Equal(1, _ingest.Rejected);
        Assert.Empty(await _ingest.SummarizeAsync(null, CancellationToken.None));
    }

    private static TelemetryRecord Report(long sequence, long eventsIn) =>
        new(sequence, Now.AddSeconds(sequence * 10), "m", "1", null, eventsIn, eventsIn, 0, 0, 1, 2, 3, 10, 1024);
}
