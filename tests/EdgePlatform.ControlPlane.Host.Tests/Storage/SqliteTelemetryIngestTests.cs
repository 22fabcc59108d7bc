using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Host.Storage.Devices;
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
    private readonly SqliteDeviceStore _devices;
    private readonly TelemetryIngestService _ingest;

    public SqliteTelemetryIngestTests()
    {
        var database = new SqliteDatabase(_database.Path);
        _store = new SqliteStore(database);
        _devices = new SqliteDeviceStore(database);
        _ingest = new TelemetryIngestService(_devices, _store, new TelemetryMetrics(new TestMeterFactory()), TimeProvider.System, NullLogger<TelemetryIngestService>.Instance, new EdgePlatform.ControlPlane.Host.Telemetry.LatencyHistograms.Reader());
    }

    public Task InitializeAsync() =>
        _devices.UpsertDeviceAsync(new DeviceRecord("dev-1", new Dictionary<string, string>(), "h", Now, DeviceStatuses.Online, null, null, null), CancellationToken.None);

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task IngestAsync_RedeliveredBatch_CountsDuplicatesAndSumsEachReportOnce()
    {
        var batch = TelemetryArrow.Serialize("dev-1", [Report(1, 10), Report(2, 20)]);

        await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, batch, CancellationToken.None);
        var again = await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, batch, CancellationToken.None);
        await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, TelemetryArrow.Serialize("dev-1", [Report(2, 20), Report(3, 30)]), CancellationToken.None);

        Assert.Equal(new TelemetryIngestResult(0, 2, null), again);
        Assert.Equal((3L, 3L), (_ingest.Accepted, _ingest.Duplicates));
        var summary = Assert.Single(await _ingest.SummarizeAsync("dev-1", CancellationToken.None));
        Assert.Equal(3, summary.Reports);
        Assert.Equal(60, summary.Latest.EventsIn);
    }

    [Fact]
    public async Task IngestAsync_MalformedMessageInTheMiddleOfATransaction_StoresTheOthersAndCountsTheOne()
    {
        var results = await _ingest.IngestAsync(
            [
                new TelemetryMessage("dev-1", TelemetryKinds.Health, TelemetryArrow.Serialize("dev-1", [Report(1, 10), Report(2, 20)])),
                new TelemetryMessage("dev-1", TelemetryKinds.Health, "not arrow"u8.ToArray()),
                new TelemetryMessage("dev-1", TelemetryKinds.Health, TelemetryArrow.Serialize("dev-1", [Report(3, 30)])),
            ],
            CancellationToken.None);

        Assert.Equal([2, 0, 1], results.Select(r => r.Accepted));
        Assert.StartsWith("malformed batch:", results[1].RejectedBecause, StringComparison.Ordinal);
        var summary = Assert.Single(await _ingest.SummarizeAsync("dev-1", CancellationToken.None));
        Assert.Equal((3L, 60L), (summary.Reports, summary.Latest.EventsIn));
        Assert.Equal(
            [(TelemetryRejections.Malformed, 1L)],
            (await _store.ListRejectionsAsync(CancellationToken.None)).Select(r => (r.Reason, r.Count)));
    }

    [Fact]
    public async Task IngestAsync_ReplayWithinAndAcrossTransactions_EachReplayedReportCountedOnceAndStoredOnce()
    {
        await _ingest.IngestAsync(
            [
                new TelemetryMessage("dev-1", TelemetryKinds.Health, TelemetryArrow.Serialize("dev-1", [Report(1, 10), Report(2, 20)])),
                new TelemetryMessage("dev-1", TelemetryKinds.Health, TelemetryArrow.Serialize("dev-1", [Report(2, 20), Report(3, 30)])),
            ],
            CancellationToken.None);
        var second = await _ingest.IngestAsync(
            [
                new TelemetryMessage("dev-1", TelemetryKinds.Health, TelemetryArrow.Serialize("dev-1", [Report(3, 30), Report(4, 40)])),
                new TelemetryMessage("dev-1", TelemetryKinds.Health, TelemetryArrow.Serialize("dev-1", [Report(5, 50)])),
            ],
            CancellationToken.None);

        Assert.Equal([(1, 1), (1, 0)], second.Select(r => (r.Accepted, r.Duplicates)));
        var summary = Assert.Single(await _ingest.SummarizeAsync("dev-1", CancellationToken.None));
        Assert.Equal((5L, 150L), (summary.Reports, summary.Latest.EventsIn));
        var minutes = await _store.QueryMinutesAsync(new TelemetryFilter(["dev-1"], null, null, null, null, 100), CancellationToken.None);
        Assert.Equal(5, minutes.Sum(m => m.Reports));
        Assert.Equal(
            [(TelemetryRejections.ReplayedSequence, 2L)],
            (await _store.ListRejectionsAsync(CancellationToken.None)).Select(r => (r.Reason, r.Count)));
    }

    [Fact]
    public async Task IngestAsync_MessagesOfSeveralDevicesInOneTransaction_RenewsEachLeaseAndRefusesTheUnenrolled()
    {
        await _devices.UpsertDeviceAsync(new DeviceRecord("dev-2", new Dictionary<string, string>(), "h", Now, DeviceStatuses.Online, null, null, null), CancellationToken.None);

        var results = await _ingest.IngestAsync(
            [
                new TelemetryMessage("dev-1", TelemetryKinds.Health, TelemetryArrow.Serialize("dev-1", [Report(1, 10)])),
                new TelemetryMessage("ghost", TelemetryKinds.Health, TelemetryArrow.Serialize("ghost", [Report(1, 10)])),
                new TelemetryMessage("dev-2", TelemetryKinds.Health, TelemetryArrow.Serialize("dev-2", [Report(1, 10)])),
            ],
            CancellationToken.None);

        Assert.Equal([1, 0, 1], results.Select(r => r.Accepted));
        Assert.All(await _devices.ListDevicesAsync(CancellationToken.None), d => Assert.NotNull(d.LastSeen));
        Assert.Equal(
            [("ghost", TelemetryRejections.UnknownDevice, 1L)],
            (await _store.ListRejectionsAsync(CancellationToken.None)).Select(r => (r.DeviceId, r.Reason, r.Count)));
    }

    [Fact]
    public async Task IngestAsync_PerfAndQualityRecords_StoredPerKindAndReadBackWhole()
    {
        var perf = Perf(1, Arms.Control);
        var quality = Quality(2, Arms.Candidate);
        var health = Report(3, 30) with { DiskFreeBytes = 5_000, DiskTotalBytes = 9_000, AgentVersion = "1.4.0", AttestationState = AttestationStates.Verified, HeartbeatSeconds = 10, EventsDropped = 2 };

        var results = await _ingest.IngestAsync(
            [
                new TelemetryMessage("dev-1", TelemetryKinds.Perf, PerfArrow.Serialize("dev-1", [perf])),
                new TelemetryMessage("dev-1", TelemetryKinds.Quality, QualityArrow.Serialize("dev-1", [quality])),
                new TelemetryMessage("dev-1", TelemetryKinds.Health, TelemetryArrow.Serialize("dev-1", [health])),
            ],
            CancellationToken.None);

        Assert.Equal([1, 1, 1], results.Select(r => r.Accepted));
        var all = new TelemetryFilter(["dev-1"], null, null, null, null, 100);
        Assert.Equal([("dev-1", perf)], await _store.QueryPerfAsync(all, CancellationToken.None));
        Assert.Equal([("dev-1", quality)], await _store.QueryQualityAsync(all, CancellationToken.None));
        Assert.Equal(health, Assert.Single(await _store.QueryRawAsync(all, CancellationToken.None)).Record);
    }

    [Fact]
    public async Task IngestAsync_SequenceStoredUnderOneKindSentUnderAnother_ReplayedAndCountedOnce()
    {
        await _ingest.IngestAsync(
            [
                new TelemetryMessage("dev-1", TelemetryKinds.Health, TelemetryArrow.Serialize("dev-1", [Report(1, 10)])),
                new TelemetryMessage("dev-1", TelemetryKinds.Perf, PerfArrow.Serialize("dev-1", [Perf(2, Arms.Control), Perf(3, Arms.Candidate)])),
            ],
            CancellationToken.None);

        var results = await _ingest.IngestAsync(
            [
                new TelemetryMessage("dev-1", TelemetryKinds.Quality, QualityArrow.Serialize("dev-1", [Quality(1, Arms.Control), Quality(4, Arms.Control)])),
                new TelemetryMessage("dev-1", TelemetryKinds.Health, TelemetryArrow.Serialize("dev-1", [Report(2, 20)])),
                new TelemetryMessage("dev-1", TelemetryKinds.Perf, PerfArrow.Serialize("dev-1", [Perf(4, Arms.Control)])),
            ],
            CancellationToken.None);

        Assert.Equal([(1, 1), (0, 1), (0, 1)], results.Select(r => (r.Accepted, r.Duplicates)));
        var all = new TelemetryFilter(["dev-1"], null, null, null, null, 100);
        Assert.Equal([1L], (await _store.QueryRawAsync(all, CancellationToken.None)).Select(p => p.Record.Sequence));
        Assert.Equal([2L, 3L], (await _store.QueryPerfAsync(all, CancellationToken.None)).Select(p => p.Record.Sequence));
        Assert.Equal([4L], (await _store.QueryQualityAsync(all, CancellationToken.None)).Select(p => p.Record.Sequence));
        Assert.Equal(
            [(TelemetryRejections.ReplayedSequence, 3L)],
            (await _store.ListRejectionsAsync(CancellationToken.None)).Select(r => (r.Reason, r.Count)));
    }

    [Fact]
    public async Task QueryPerfMinutesAsync_HistogramsOfTwoDevices_PercentilesAreThoseOfAllTheirLatencies()
    {
        await _devices.UpsertDeviceAsync(new DeviceRecord("dev-2", new Dictionary<string, string>(), "h", Now, DeviceStatuses.Online, null, null, null), CancellationToken.None);

        // dev-1: 1,000 fast latencies (0.1 ms to 1.0 ms); dev-2: 100 slow ones (40 ms to 50 ms). A
        // maximum of the devices' percentiles would put the minute's p50 at dev-2's 45 ms.
        var fast = Enumerable.Range(0, 1000).Select(i => 100L + (900L * i / 999)).ToList();
        var slow = Enumerable.Range(0, 100).Select(i => 40_000L + (10_000L * i / 99)).ToList();
        var union = fast.Concat(slow).Order().ToList();
        await _ingest.IngestAsync(
            [
                new TelemetryMessage("dev-1", TelemetryKinds.Perf, PerfArrow.Serialize("dev-1", [Perf(1, Arms.Control) with { LatencyHistogram = Histogram(fast[..500]) }])),
                new TelemetryMessage("dev-1", TelemetryKinds.Perf, PerfArrow.Serialize("dev-1", [Perf(2, Arms.Control) with { LatencyHistogram = Histogram(fast[500..]) }])),
                new TelemetryMessage("dev-2", TelemetryKinds.Perf, PerfArrow.Serialize("dev-2", [Perf(1, Arms.Control) with { LatencyHistogram = Histogram(slow) }])),
                new TelemetryMessage("dev-2", TelemetryKinds.Perf, PerfArrow.Serialize("dev-2", [Perf(3, Arms.Candidate) with { LatencyHistogram = Histogram(slow) }])),
            ],
            CancellationToken.None);

        var all = new TelemetryFilter(["dev-1", "dev-2"], null, null, null, null, 100);
        var control = Assert.Single(await _store.QueryPerfMinutesAsync(all with { Arm = Arms.Control }, CancellationToken.None));

        Assert.Equal((2, 3L, 1100L), (control.Devices, control.Records, control.LatencyCount));
        Assert.Equal(3 * 120L, control.EventsIn);
        foreach (var (percentile, measured) in new[] { (50.0, control.LatencyP50Ms), (95.0, control.LatencyP95Ms), (99.0, control.LatencyP99Ms) })
        {
            // The value at the percentile of the union of samples, within HdrHistogram's three significant digits.
            var exact = union[(int)Math.Ceiling(percentile / 100 * union.Count) - 1] / 1000.0;
            Assert.InRange(measured, exact * 0.999, exact * 1.001);
        }

        Assert.Equal(Arms.Candidate, Assert.Single(await _store.QueryPerfMinutesAsync(all with { Arm = Arms.Candidate }, CancellationToken.None)).Arm);
        Assert.Equal(2, (await _store.QueryPerfMinutesAsync(all, CancellationToken.None)).Count);
    }

    [Fact]
    public async Task IngestAsync_PerfRecordWithAnUnreadableHistogram_RefusedAsMalformedWhileTheRestIsStored()
    {
        var results = await _ingest.IngestAsync(
            [
                new TelemetryMessage("dev-1", TelemetryKinds.Perf, PerfArrow.Serialize("dev-1", [Perf(1, Arms.Control) with { LatencyHistogram = new byte[] { 0x1c, 0x84, 0x93, 0x14, 7 } }])),
                new TelemetryMessage("dev-1", TelemetryKinds.Perf, PerfArrow.Serialize("dev-1", [Perf(2, Arms.Control)])),
            ],
            CancellationToken.None);

        Assert.Contains("sequence 1: latency_histogram:", results[0].RejectedBecause, StringComparison.Ordinal);
        Assert.Equal(1, results[1].Accepted);
        Assert.Equal([2L], (await _store.QueryPerfAsync(new TelemetryFilter(["dev-1"], null, null, null, null, 10), CancellationToken.None)).Select(p => p.Record.Sequence));
    }

    [Fact]
    public async Task QueryQualityMinutesAsync_RecordsOfTwoDevices_MomentsAreThoseOfAllTheirValues()
    {
        await _devices.UpsertDeviceAsync(new DeviceRecord("dev-2", new Dictionary<string, string>(), "h", Now, DeviceStatuses.Online, null, null, null), CancellationToken.None);
        double[][] samples = [[10, 12, 14], [20, 21], [30, 35, 40, 45]];

        // Three records in one minute: two of dev-1, one of dev-2, each with its own values of 'rpm'.
        await _ingest.IngestAsync(
            [
                new TelemetryMessage("dev-1", TelemetryKinds.Quality, QualityArrow.Serialize("dev-1", [Moments(1, samples[0], psi: 0.02, correct: 3, wrong: 1)])),
                new TelemetryMessage("dev-1", TelemetryKinds.Quality, QualityArrow.Serialize("dev-1", [Moments(2, samples[1], psi: 0.30, correct: 1, wrong: 0)])),
                new TelemetryMessage("dev-2", TelemetryKinds.Quality, QualityArrow.Serialize("dev-2", [Moments(1, samples[2], psi: null, correct: 5, wrong: 2)])),
            ],
            CancellationToken.None);

        var minute = Assert.Single(await _store.QueryQualityMinutesAsync(new TelemetryFilter(["dev-1", "dev-2"], null, null, null, null, 10), CancellationToken.None));
        var all = samples.SelectMany(s => s).ToList();
        var mean = all.Average();
        var rpm = Assert.Single(minute.Features);
        Assert.Equal((2, 3L, (long)all.Count), (minute.Devices, minute.Records, rpm.Count));
        Assert.Equal(mean, rpm.Mean, 9);
        Assert.Equal(all.Sum(v => (v - mean) * (v - mean)) / all.Count, rpm.Variance, 9);
        Assert.Equal((10.0, 45.0), (rpm.Min, rpm.Max));
        Assert.Equal(0.30, rpm.PsiMax);
        Assert.Equal([2L, 6L], minute.ScoreHistogram);
        Assert.Equal((12L, 9L, 3L), (minute.Labelled, minute.TruePositives + minute.TrueNegatives, minute.FalsePositives + minute.FalseNegatives));

        // Sequences 1, 2 and 1: log-loss sums 0.5 + 1 + 0.5, squared sums 0.25 + 0.5 + 0.25.
        Assert.Equal(2.0, minute.LogLossSum, 12);
        Assert.Equal(1.0, minute.LogLossSquaredSum, 12);
        Assert.Equal(9L, minute.LabelledPositiveHistogram[99]);
        Assert.Equal(3L, minute.LabelledNegativeHistogram[60]);
        Assert.Equal((9L, 3L), (minute.LabelledPositiveHistogram.Sum(), minute.LabelledNegativeHistogram.Sum()));
        Assert.Equal((40L, 36L, 9L, -3.0, 3.0), (minute.Compared, minute.Agreements, minute.Paired, minute.PairedDifferenceSum, minute.PairedDifferenceSquaredSum));
    }

    [Fact]
    public async Task Open_QualityStoredBeforeExperimentColumns_ReadsThemAsZerosAndEmptyHistograms()
    {
        var quality = Quality(2, Arms.Candidate);
        await _ingest.IngestAsync([new TelemetryMessage("dev-1", TelemetryKinds.Quality, QualityArrow.Serialize("dev-1", [quality]))], CancellationToken.None);
        _database.Scalar(SchemaRewind.ToStep13 + "SELECT 0;");
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        var migrated = new SqliteStore(_database.Path);
        var (_, stored) = Assert.Single(await migrated.QueryQualityAsync(new TelemetryFilter(["dev-1"], null, null, null, null, 10), CancellationToken.None));

        Assert.Equal(SqliteMigrations.LatestVersion, _database.Scalar("PRAGMA user_version;"));
        Assert.Equal(
            quality with
            {
                LogLossSum = 0, LogLossSquaredSum = 0, LabelledPositiveHistogram = [], LabelledNegativeHistogram = [],
                Compared = 0, Agreements = 0, Paired = 0, PairedDifferenceSum = 0, PairedDifferenceSquaredSum = 0,
            },
            stored);
    }

    [Fact]
    public async Task IngestAsync_BatchForAnotherDevice_StoresNothing()
    {
        var result = await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, TelemetryArrow.Serialize("dev-2", [Report(1, 10)]), CancellationToken.None);

        Assert.NotNull(result.RejectedBecause);
        Assert.Equal(1, _ingest.Rejected);
        Assert.Empty(await _ingest.SummarizeAsync(null, CancellationToken.None));
    }

    [Fact]
    public async Task QueryMinutesAsync_ReportsAcrossTwoMinutes_RollsThemUpPerMinuteAndModelVersion()
    {
        // Sequences 1..12, 10 s apart from 12:00:10: the even ones (version 2) fall as 2, 4 | 6, 8, 10 | 12.
        var reports = Enumerable.Range(1, 12).Select(i => Report(i, i) with { ModelVersion = i % 2 == 0 ? "2" : "1" }).ToList();
        await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, TelemetryArrow.Serialize("dev-1", reports), CancellationToken.None);
        await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, TelemetryArrow.Serialize("dev-1", reports), CancellationToken.None);

        var minutes = await _store.QueryMinutesAsync(new TelemetryFilter(null, null, "2", null, null, 100), CancellationToken.None);

        Assert.Equal([Now, Now.AddMinutes(1), Now.AddMinutes(2)], minutes.Select(m => m.Minute));
        Assert.Equal([2L + 4, 6L + 8 + 10, 12L], minutes.Select(m => m.EventsIn));
        Assert.Equal([2L, 3L, 1L], minutes.Select(m => m.Reports));
        Assert.All(minutes, m => Assert.Equal("2", m.ModelVersion));
    }

    [Fact]
    public async Task PruneTelemetryAsync_OldRawReports_KeepsRollupsAndStillRefusesTheirSequences()
    {
        await _store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [Report(1, 10), Report(2, 20)], Now, CancellationToken.None);
        await _store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [Report(3, 30)], Now.AddHours(2), CancellationToken.None);

        var pruned = await _store.PruneTelemetryAsync(Now.AddHours(1), Now.AddDays(-1), CancellationToken.None);
        var replayed = await _store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [Report(1, 10), Report(2, 20)], Now.AddHours(3), CancellationToken.None);

        Assert.Equal(2, pruned);
        Assert.Empty(replayed);
        Assert.Equal([Report(3, 30)], (await _store.QueryRawAsync(new TelemetryFilter(null, null, null, null, null, 100), CancellationToken.None)).Select(p => p.Record));
        Assert.Equal(60, (await _store.QueryMinutesAsync(new TelemetryFilter(["dev-1"], null, null, null, null, 100), CancellationToken.None)).Sum(m => m.EventsIn));
    }

    [Fact]
    public async Task QueryRawAsync_DeviceAndTimeRange_ReturnsOnlyMatchingReportsOldestFirst()
    {
        await _devices.UpsertDeviceAsync(new DeviceRecord("dev-2", new Dictionary<string, string>(), "h", Now, DeviceStatuses.Online, null, null, null), CancellationToken.None);
        await _store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [Report(3, 30), Report(1, 10), Report(2, 20)], Now, CancellationToken.None);
        await _store.AddTelemetryAsync("dev-2", TelemetryKinds.Health, [Report(2, 99)], Now, CancellationToken.None);

        var points = await _store.QueryRawAsync(new TelemetryFilter(["dev-1"], null, null, Now.AddSeconds(20), Now.AddSeconds(40), 100), CancellationToken.None);

        Assert.Equal([2L, 3L], points.Select(p => p.Record.Sequence));
        Assert.All(points, p => Assert.Equal("dev-1", p.DeviceId));
    }

    [Fact]
    public async Task IngestAsync_Rejections_PersistPerDeviceAndReasonAcrossRestarts()
    {
        await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, "garbage"u8.ToArray(), CancellationToken.None);
        await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, "garbage"u8.ToArray(), CancellationToken.None);
        await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, TelemetryArrow.Serialize("dev-2", [Report(1, 10)]), CancellationToken.None);

        var reopened = new SqliteStore(_database.Path);
        var rejections = await reopened.ListRejectionsAsync(CancellationToken.None);

        Assert.Equal(
            [("dev-1", TelemetryRejections.ForeignDevice, 1L), ("dev-1", TelemetryRejections.Malformed, 2L)],
            rejections.Select(r => (r.DeviceId, r.Reason, r.Count)));
    }

    [Fact]
    public async Task AddTelemetryAsync_AnyBatch_RenewsTheDeviceLease()
    {
        await _store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [Report(1, 10)], Now.AddMinutes(5), CancellationToken.None);

        Assert.Equal(Now.AddMinutes(5), (await _devices.GetDeviceAsync("dev-1", CancellationToken.None))!.LastSeen);
    }

    [Fact]
    public async Task Open_DatabaseFromBeforeRollups_BackfillsThemFromStoredReports()
    {
        await _store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [Report(1, 10), Report(2, 20), Report(7, 70)], Now, CancellationToken.None);
        _database.Scalar(
            SchemaRewind.Step16 + SchemaRewind.Step15 + SchemaRewind.Step14 + SchemaRewind.Step13 + SchemaRewind.Step12 + SchemaRewind.Step11 + SchemaRewind.Step10 + SchemaRewind.Step9 + SchemaRewind.Step8 +
            "DROP TABLE rollouts; DROP TABLE telemetry_minutes; DROP TABLE telemetry_rejections; DROP TABLE telemetry_watermarks; DROP INDEX telemetry_by_time; " +
            "ALTER TABLE telemetry DROP COLUMN latency_p95_ms; ALTER TABLE telemetry DROP COLUMN queue_depth; " +
            "ALTER TABLE telemetry DROP COLUMN queue_bytes; ALTER TABLE telemetry DROP COLUMN reports_shed; PRAGMA user_version = 5; SELECT 0;");
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        var migrated = new SqliteStore(_database.Path);
        var minutes = await migrated.QueryMinutesAsync(new TelemetryFilter(null, null, null, null, null, 100), CancellationToken.None);

        Assert.Equal([(Now, 30L, 2L), (Now.AddMinutes(1), 70L, 1L)], minutes.Select(m => (m.Minute, m.EventsIn, m.Reports)));
        Assert.Equal(100, Assert.Single(await migrated.SummarizeAsync("dev-1", CancellationToken.None)).Latest.EventsIn);
    }

    private static byte[] Histogram(IEnumerable<long> micros)
    {
        var histogram = new HdrHistogram.LongHistogram(1, 60_000_000, 3);
        foreach (var value in micros)
        {
            histogram.RecordValue(value);
        }

        return EdgePlatform.ControlPlane.Host.Telemetry.LatencyHistograms.Encode(histogram);
    }

    private static PerfRecord Perf(long sequence, string arm) => new(
        sequence, Now.AddSeconds(sequence * 10), 10_000, "m", "1", "sha256:" + new string('b', 64), arm,
        120, 100, 5, 10, 5, 0.8, 2.5, 4.75, 9.125, 1.1, Histogram([800, 2500, 4750]), 4, 25.0, 64, [1, 0, 0, 1, 0, 0, 2]);

    /// <summary>A quality record whose one feature saw exactly <paramref name="values"/>.</summary>
    private static QualityRecord Moments(long sequence, double[] values, double? psi, long correct, long wrong)
    {
        var mean = values.Average();
        return Quality(sequence, Arms.Control) with
        {
            Timestamp = Now,
            Scores = values.Length,
            ScoreBinEdges = [0, 0.5, 1.0],
            ScoreHistogram = sequence == 1 ? [1, 2] : [0, 2],
            FeatureNames = ["rpm"],
            FeatureCount = [values.Length],
            FeatureMean = [mean],
            FeatureVariance = [values.Sum(v => (v - mean) * (v - mean)) / values.Length],
            FeatureMin = [values.Min()],
            FeatureMax = [values.Max()],
            FeaturePsi = [psi],
            FeatureDecileCounts = [.. Enumerable.Repeat(1L, QualityRecord.DriftBins)],
            DriftPsiMax = psi,
            Labelled = correct + wrong,
            TruePositives = correct,
            FalsePositives = wrong,
            TrueNegatives = 0,
            FalseNegatives = 0,
            LogLossSum = 0.5 * sequence,
            LogLossSquaredSum = 0.25 * sequence,
            LabelledPositiveHistogram = [.. Enumerable.Range(0, QualityRecord.LabelledScoreBins).Select(i => i == 99 ? correct : 0L)],
            LabelledNegativeHistogram = [.. Enumerable.Range(0, QualityRecord.LabelledScoreBins).Select(i => i == 60 ? wrong : 0L)],
            Compared = 10 * sequence,
            Agreements = 9 * sequence,
            Paired = correct,
            PairedDifferenceSum = -wrong,
            PairedDifferenceSquaredSum = wrong,
        };
    }

    private static QualityRecord Quality(long sequence, string arm) => new(
        sequence, Now.AddSeconds(sequence * 10), "m", "1", "sha256:" + new string('c', 64), arm,
        Scores: 200,
        ScoreMean: 0.125,
        ScoreBinEdges: [0, 0.5, 1.0],
        ScoreHistogram: [150, 50],
        FeatureNames: ["temperature_c", "rpm"],
        FeatureCount: [20, 20],
        FeatureMean: [51.5, 1460],
        FeatureVariance: [4.25, 100],
        FeatureMin: [45, 1400],
        FeatureMax: [60.5, 1500],
        FeaturePsi: [0.02, null],
        FeatureDecileCounts: [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20],
        DriftPsiMax: 0.02,
        Labelled: 10,
        TruePositives: 2,
        FalsePositives: 1,
        TrueNegatives: 6,
        FalseNegatives: 1,
        ErrorSum: 0,
        AbsoluteErrorSum: 0,
        SquaredErrorSum: 0,
        LogLossSum: 4.25,
        LogLossSquaredSum: 3.5,
        LabelledPositiveHistogram: [.. Enumerable.Range(0, QualityRecord.LabelledScoreBins).Select(i => i == 90 ? 3L : 0L)],
        LabelledNegativeHistogram: [.. Enumerable.Range(0, QualityRecord.LabelledScoreBins).Select(i => i == 5 ? 7L : 0L)],
        Compared: arm == Arms.Candidate ? 180 : 0,
        Agreements: arm == Arms.Candidate ? 171 : 0,
        Paired: arm == Arms.Candidate ? 10 : 0,
        PairedDifferenceSum: arm == Arms.Candidate ? -2 : 0,
        PairedDifferenceSquaredSum: arm == Arms.Candidate ? 4 : 0);

    private static TelemetryRecord Report(long sequence, long eventsIn) =>
        new(sequence, Now.AddSeconds(sequence * 10), "m", "1", null, eventsIn, eventsIn, 0, 0, 1, 2, 3, 10, 1024);
}
