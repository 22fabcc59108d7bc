using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Telemetry;
using EdgePlatform.ControlPlane.Tests.Fakes;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgePlatform.ControlPlane.Tests.Telemetry;

public class TelemetryIngestServiceTests
{
    private static readonly DateTimeOffset Start = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider _time = new(Start);
    private readonly InMemoryStore _store = new();
    private readonly TelemetryIngestService _ingest;

    public TelemetryIngestServiceTests()
    {
        _ingest = new TelemetryIngestService(_store, _store, new TelemetryMetrics(new TestMeterFactory()), _time, NullLogger<TelemetryIngestService>.Instance);
        _store.AddDevice("dev-1");
        _store.AddDevice("dev-2");
    }

    [Fact]
    public async Task IngestAsync_NewBatch_StoresEveryRecord()
    {
        var result = await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, Batch("dev-1", 1, 2, 3), CancellationToken.None);

        Assert.Equal(new TelemetryIngestResult(3, 0, null), result);
        Assert.Equal(3, _ingest.Accepted);
        Assert.Equal([1L, 2L, 3L], _store.Telemetry.Keys.Where(k => k.Device == "dev-1").Select(k => k.Sequence).Order());
        Assert.All(_store.Telemetry.Values, v => Assert.Equal(TelemetryKinds.Health, v.Kind));
    }

    [Fact]
    public async Task IngestAsync_RepeatedAndOverlappingBatches_CountsDuplicatesAndStoresEachSequenceOnce()
    {
        await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, Batch("dev-1", 1, 2, 3), CancellationToken.None);

        var again = await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, Batch("dev-1", 1, 2, 3), CancellationToken.None);
        var overlapping = await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, Batch("dev-1", 3, 4), CancellationToken.None);

        Assert.Equal(new TelemetryIngestResult(0, 3, null), again);
        Assert.Equal(new TelemetryIngestResult(1, 1, null), overlapping);
        Assert.Equal(4, _ingest.Accepted);
        Assert.Equal(4, _ingest.Duplicates);
        Assert.Equal(0, _ingest.Rejected);
        Assert.Equal(4, _store.Telemetry.Count);
        Assert.Equal(103, _store.Telemetry[("dev-1", 3)].Record.EventsIn);
    }

    [Fact]
    public async Task IngestAsync_SameSequenceFromTwoDevices_StoresBoth()
    {
        await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, Batch("dev-1", 1), CancellationToken.None);

        var result = await _ingest.IngestAsync("dev-2", TelemetryKinds.Health, Batch("dev-2", 1), CancellationToken.None);

        Assert.Equal(1, result.Accepted);
        Assert.Equal(2, _store.Telemetry.Count);
    }

    [Fact]
    public async Task IngestAsync_BatchNamingAnotherDevice_RejectsAndCountsIt()
    {
        var result = await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, Batch("dev-2", 1, 2), CancellationToken.None);

        Assert.Equal(0, result.Accepted);
        Assert.Equal("batch names device 'dev-2', not the topic's", result.RejectedBecause);
        Assert.Equal(1, _ingest.Rejected);
        Assert.Empty(_store.Telemetry);
    }

    [Theory]
    [InlineData("")]
    [InlineData("7b226e6f74223a2261727277227d")]
    [InlineData("ffffffff00000000")]
    public async Task IngestAsync_GarbagePayload_RejectsItAndGoesOnIngesting(string hex)
    {
        var rejected = await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, Convert.FromHexString(hex), CancellationToken.None);
        var next = await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, Batch("dev-1", 1), CancellationToken.None);

        Assert.StartsWith("malformed batch: ", rejected.RejectedBecause, StringComparison.Ordinal);
        Assert.Equal(1, _ingest.Rejected);
        Assert.Equal(new TelemetryIngestResult(1, 0, null), next);
        Assert.Single(_store.Telemetry);
    }

    [Fact]
    public async Task IngestAsync_SchemaWithUnsupportedBitWidth_RejectsAndCountsIt()
    {
        var payload = Batch("dev-1", 1);
        byte[] marker = [0x40, 0, 0, 0, 12, 0, 0, 0, .. "memory_bytes"u8];
        var at = payload.AsSpan().IndexOf(marker);
        Assert.True(at >= 0, "the Arrow encoding changed; find the bit width of memory_bytes another way");
        payload[at] = 65;

        var result = await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, payload, CancellationToken.None);

        Assert.StartsWith("malformed batch: ", result.RejectedBecause, StringComparison.Ordinal);
        Assert.Equal(1, _ingest.Rejected);
    }

    [Fact]
    public async Task IngestAsync_UnknownDevice_Rejected()
    {
        var result = await _ingest.IngestAsync("dev-9", TelemetryKinds.Health, Batch("dev-9", 1), CancellationToken.None);

        Assert.Equal("device is not enrolled", result.RejectedBecause);
        Assert.Equal(1, _ingest.Rejected);
        Assert.Empty(_store.Telemetry);
    }

    [Fact]
    public async Task IngestAsync_UnknownKind_Rejected()
    {
        var result = await _ingest.IngestAsync("dev-1", "gossip", Batch("dev-1", 1), CancellationToken.None);

        Assert.Equal("unknown telemetry kind 'gossip'", result.RejectedBecause);
        Assert.Empty(_store.Telemetry);
    }

    [Fact]
    public async Task IngestAsync_MixOfMalformedForeignReplayedAndValid_CountsEachReasonAndStoresOnlyTheValid()
    {
        await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, Batch("dev-1", 1, 2), CancellationToken.None);

        await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, "not arrow"u8.ToArray(), CancellationToken.None);
        await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, Batch("dev-2", 3), CancellationToken.None);
        await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, Batch("dev-1", 1, 2), CancellationToken.None);
        await _ingest.IngestAsync("dev-1", "gossip", Batch("dev-1", 4), CancellationToken.None);
        var after = await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, Batch("dev-1", 3), CancellationToken.None);

        Assert.Equal(new TelemetryIngestResult(1, 0, null), after);
        Assert.Equal([1L, 2L, 3L], _store.Telemetry.Keys.Select(k => k.Sequence).Order());
        Assert.Equal(1, _store.Rejections[("dev-1", TelemetryRejections.Malformed)]);
        Assert.Equal(1, _store.Rejections[("dev-1", TelemetryRejections.ForeignDevice)]);
        Assert.Equal(2, _store.Rejections[("dev-1", TelemetryRejections.ReplayedSequence)]);
        Assert.Equal(1, _store.Rejections[("dev-1", TelemetryRejections.UnknownKind)]);
        var stats = await _ingest.GetStatsAsync(CancellationToken.None);
        Assert.Equal((3L, 2L, 3L), (stats.Accepted, stats.Replayed, stats.Rejected));
    }

    [Fact]
    public async Task SummarizeAsync_InvalidDeviceId_ThrowsValidationOnDevice()
    {
        var exception = await Assert.ThrowsAsync<RequestValidationException>(() => _ingest.SummarizeAsync("Bad Id", CancellationToken.None));

        Assert.Equal("device", exception.Field);
    }

    internal static byte[] Batch(string deviceId, params long[] sequences) =>
        TelemetryArrow.Serialize(deviceId, [.. sequences.Select(s => new TelemetryRecord(s, Start.AddSeconds(s), "m", "1", null, 100 + s, 100 + s, 0, 0, 1, 2, 3, 10, 1000))]);
}
