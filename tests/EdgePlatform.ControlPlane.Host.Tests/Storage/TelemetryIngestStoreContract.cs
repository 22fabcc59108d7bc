using EdgePlatform.Contracts;
using Dapper;
using EdgePlatform.ControlPlane.Host.Storage;
using EdgePlatform.ControlPlane.Host.Storage.Telemetry;
using EdgePlatform.ControlPlane.Ports;
using EdgePlatform.ControlPlane.Telemetry;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgePlatform.ControlPlane.Host.Tests.Storage;

/// <summary>Telemetry ingest over the store adapters the server really uses, on each database.</summary>
public abstract class TelemetryIngestStoreContract : StoreContract, IAsyncLifetime
{
    protected static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly TelemetryIngestService _ingest;

    protected TelemetryIngestStoreContract(StoreProvider provider)
        : base(provider)
    {
        _ingest = new TelemetryIngestService(
            TelemetryTestDevices.EnrolmentOnly(Stores.Database), Stores.Telemetry, new TelemetryMetrics(new TestMeterFactory()), TimeProvider.System,
            NullLogger<TelemetryIngestService>.Instance, new EdgePlatform.ControlPlane.Host.Telemetry.LatencyHistograms.Reader());
    }

    protected TelemetryIngestService Ingest => _ingest;

    private ITelemetryStore Store => Stores.Telemetry;

    public Task InitializeAsync() => Enroll("dev-1");

    public Task DisposeAsync() => Task.CompletedTask;

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
            (await Store.ListRejectionsAsync(CancellationToken.None)).Select(r => (r.Reason, r.Count)));
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
        var minutes = await Store.QueryMinutesAsync(new TelemetryFilter(["dev-1"], null, null, null, null, 100), CancellationToken.None);
        Assert.Equal(5, minutes.Sum(m => m.Reports));
        Assert.Equal(
            [(TelemetryRejections.ReplayedSequence, 2L)],
            (await Store.ListRejectionsAsync(CancellationToken.None)).Select(r => (r.Reason, r.Count)));
    }

    [Fact]
    public async Task IngestAsync_MessagesOfSeveralDevicesInOneTransaction_RenewsEachLeaseAndRefusesTheUnenrolled()
    {
        await Enroll("dev-2");

        var results = await _ingest.IngestAsync(
            [
                new TelemetryMessage("dev-1", TelemetryKinds.Health, TelemetryArrow.Serialize("dev-1", [Report(1, 10)])),
                new TelemetryMessage("ghost", TelemetryKinds.Health, TelemetryArrow.Serialize("ghost", [Report(1, 10)])),
                new TelemetryMessage("dev-2", TelemetryKinds.Health, TelemetryArrow.Serialize("dev-2", [Report(1, 10)])),
            ],
            CancellationToken.None);

        Assert.Equal([1, 0, 1], results.Select(r => r.Accepted));
        Assert.NotNull(await TelemetryTestDevices.LastSeenAsync(Stores.Database, "dev-1"));
        Assert.NotNull(await TelemetryTestDevices.LastSeenAsync(Stores.Database, "dev-2"));
        Assert.Equal(
            [("ghost", TelemetryRejections.UnknownDevice, 1L)],
            (await Store.ListRejectionsAsync(CancellationToken.None)).Select(r => (r.DeviceId, r.Reason, r.Count)));
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
        Assert.Equal([("dev-1", perf)], await Store.QueryPerfAsync(all, CancellationToken.None));
        Assert.Equal([("dev-1", quality)], await Store.QueryQualityAsync(all, CancellationToken.None));
        Assert.Equal(health, Assert.Single(await Store.QueryRawAsync(all, CancellationToken.None)).Record);
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
        Assert.Equal([1L], (await Store.QueryRawAsync(all, CancellationToken.None)).Select(p => p.Record.Sequence));
        Assert.Equal([2L, 3L], (await Store.QueryPerfAsync(all, CancellationToken.None)).Select(p => p.Record.Sequence));
        Assert.Equal([4L], (await Store.QueryQualityAsync(all, CancellationToken.None)).Select(p => p.Record.Sequence));
        Assert.Equal(
            [(TelemetryRejections.ReplayedSequence, 3L)],
            (await Store.ListRejectionsAsync(CancellationToken.None)).Select(r => (r.Reason, r.Count)));
    }

    [Fact]
    public async Task QueryPerfMinutesAsync_HistogramsOfTwoDevices_PercentilesAreThoseOfAllTheirLatencies()
    {
        await Enroll("dev-2");

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
        var control = Assert.Single(await Store.QueryPerfMinutesAsync(all with { Arm = Arms.Control }, CancellationToken.None));

        Assert.Equal((2, 3L, 1100L), (control.Devices, control.Records, control.LatencyCount));
        Assert.Equal(3 * 120L, control.EventsIn);
        foreach (var (percentile, measured) in new[] { (50.0, control.LatencyP50Ms), (95.0, control.LatencyP95Ms), (99.0, control.LatencyP99Ms) })
        {
            // The value at the percentile of the union of samples, within HdrHistogram's three significant digits.
            var exact = union[(int)Math.Ceiling(percentile / 100 * union.Count) - 1] / 1000.0;
            Assert.InRange(measured, exact * 0.999, exact * 1.001);
        }

        Assert.Equal(Arms.Candidate, Assert.Single(await Store.QueryPerfMinutesAsync(all with { Arm = Arms.Candidate }, CancellationToken.None)).Arm);
        Assert.Equal(2, (await Store.QueryPerfMinutesAsync(all, CancellationToken.None)).Count);
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
        Assert.Equal([2L], (await Store.QueryPerfAsync(new TelemetryFilter(["dev-1"], null, null, null, null, 10), CancellationToken.None)).Select(p => p.Record.Sequence));
    }

    [Fact]
    public async Task QueryQualityMinutesAsync_RecordsOfTwoDevices_MomentsAreThoseOfAllTheirValues()
    {
        await Enroll("dev-2");
        double[][] samples = [[10, 12, 14], [20, 21], [30, 35, 40, 45]];

        // Three records in one minute: two of dev-1, one of dev-2, each with its own values of 'rpm'.
        await _ingest.IngestAsync(
            [
                new TelemetryMessage("dev-1", TelemetryKinds.Quality, QualityArrow.Serialize("dev-1", [Moments(1, samples[0], psi: 0.02, correct: 3, wrong: 1)])),
                new TelemetryMessage("dev-1", TelemetryKinds.Quality, QualityArrow.Serialize("dev-1", [Moments(2, samples[1], psi: 0.30, correct: 1, wrong: 0)])),
                new TelemetryMessage("dev-2", TelemetryKinds.Quality, QualityArrow.Serialize("dev-2", [Moments(1, samples[2], psi: null, correct: 5, wrong: 2)])),
            ],
            CancellationToken.None);

        var minute = Assert.Single(await Store.QueryQualityMinutesAsync(new TelemetryFilter(["dev-1", "dev-2"], null, null, null, null, 10), CancellationToken.None));
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

        var minutes = await Store.QueryMinutesAsync(new TelemetryFilter(null, null, "2", null, null, 100), CancellationToken.None);

        Assert.Equal([Now, Now.AddMinutes(1), Now.AddMinutes(2)], minutes.Select(m => m.Minute));
        Assert.Equal([2L + 4, 6L + 8 + 10, 12L], minutes.Select(m => m.EventsIn));
        Assert.Equal([2L, 3L, 1L], minutes.Select(m => m.Reports));
        Assert.All(minutes, m => Assert.Equal("2", m.ModelVersion));
    }

    [Fact]
    public async Task PruneTelemetryAsync_OldRawReports_KeepsRollupsAndStillRefusesTheirSequences()
    {
        await Store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [Report(1, 10), Report(2, 20)], Now, CancellationToken.None);
        await Store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [Report(3, 30)], Now.AddHours(2), CancellationToken.None);

        var pruned = await Store.PruneTelemetryAsync(Now.AddHours(1), Now.AddDays(-1), CancellationToken.None);
        var replayed = await Store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [Report(1, 10), Report(2, 20)], Now.AddHours(3), CancellationToken.None);

        Assert.Equal(2, pruned);
        Assert.Empty(replayed);
        Assert.Equal([Report(3, 30)], (await Store.QueryRawAsync(new TelemetryFilter(null, null, null, null, null, 100), CancellationToken.None)).Select(p => p.Record));
        Assert.Equal(60, (await Store.QueryMinutesAsync(new TelemetryFilter(["dev-1"], null, null, null, null, 100), CancellationToken.None)).Sum(m => m.EventsIn));
    }

    [Fact]
    public async Task QueryRawAsync_DeviceAndTimeRange_ReturnsOnlyMatchingReportsOldestFirst()
    {
        await Enroll("dev-2");
        await Store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [Report(3, 30), Report(1, 10), Report(2, 20)], Now, CancellationToken.None);
        await Store.AddTelemetryAsync("dev-2", TelemetryKinds.Health, [Report(2, 99)], Now, CancellationToken.None);

        var points = await Store.QueryRawAsync(new TelemetryFilter(["dev-1"], null, null, Now.AddSeconds(20), Now.AddSeconds(40), 100), CancellationToken.None);

        Assert.Equal([2L, 3L], points.Select(p => p.Record.Sequence));
        Assert.All(points, p => Assert.Equal("dev-1", p.DeviceId));
    }

    [Fact]
    public async Task IngestAsync_Rejections_PersistPerDeviceAndReasonAcrossRestarts()
    {
        await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, "garbage"u8.ToArray(), CancellationToken.None);
        await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, "garbage"u8.ToArray(), CancellationToken.None);
        await _ingest.IngestAsync("dev-1", TelemetryKinds.Health, TelemetryArrow.Serialize("dev-2", [Report(1, 10)]), CancellationToken.None);

        using var reopened = OpenAnotherReplica();
        var rejections = await reopened.Telemetry.ListRejectionsAsync(CancellationToken.None);

        Assert.Equal(
            [("dev-1", TelemetryRejections.ForeignDevice, 1L), ("dev-1", TelemetryRejections.Malformed, 2L)],
            rejections.Select(r => (r.DeviceId, r.Reason, r.Count)));
    }

    [Fact]
    public async Task AddTelemetryAsync_AnyBatch_RenewsTheDeviceLease()
    {
        await Store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [Report(1, 10)], Now.AddMinutes(5), CancellationToken.None);

        Assert.Equal(Now.AddMinutes(5), await TelemetryTestDevices.LastSeenAsync(Stores.Database, "dev-1"));
    }

    [Fact]
    public async Task AddTelemetryAsync_SameDeviceAndSequenceTwice_StoresTheFirstOnly()
    {
        var store = Stores.Telemetry;
        var record = HealthReport(7, eventsIn: 100);

        Assert.Single(await store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [record], Now, CancellationToken.None));
        Assert.Empty(await store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [record with { EventsIn = 999 }], Now.AddSeconds(5), CancellationToken.None));
        Assert.Single(await store.AddTelemetryAsync("dev-2", TelemetryKinds.Health, [record], Now, CancellationToken.None));

        var summary = Assert.Single(await store.SummarizeAsync("dev-1", CancellationToken.None));
        Assert.Equal(1, summary.Reports);
        Assert.Equal(100, summary.Latest.EventsIn);
        Assert.Equal(Now, summary.LastReceived);
        Assert.Equal(2, (await store.QueryRawAsync(new TelemetryFilter(null, null, null, null, null, 10), CancellationToken.None)).Count);
    }

    [Fact]
    public async Task SummarizeAsync_SeveralReports_SumsCountersAndKeepsTheLatestRest()
    {
        var store = Stores.Telemetry;
        await store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [HealthReport(1, eventsIn: 10) with { ModelVersion = "1" }], Now, CancellationToken.None);
        await store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [HealthReport(3, eventsIn: 30) with { ModelVersion = "2", ModelName = null }], Now.AddSeconds(20), CancellationToken.None);
        await store.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [HealthReport(2, eventsIn: 20)], Now.AddSeconds(10), CancellationToken.None);

        var summary = Assert.Single(await store.SummarizeAsync(null, CancellationToken.None));

        Assert.Equal(3, summary.Reports);
        Assert.Equal(3, summary.LastSequence);
        Assert.Equal(60, summary.Latest.EventsIn);
        Assert.Equal("2", summary.Latest.ModelVersion);
        Assert.Null(summary.Latest.ModelName);
        Assert.Equal(Now.AddSeconds(20), summary.LastReceived);
    }

    [Fact]
    public async Task WriteTelemetryAsync_TwoReplicasWriteTheSameBatchAtOnce_StoresOneCopyAndEachResultHoldsWhatItStored()
    {
        using var other = OpenAnotherReplica();
        var reports = Enumerable.Range(1, 200).Select(i => Report(i, i)).ToList();
        var write = new TelemetryWrite(Now, [new DeviceTelemetry("dev-1", TelemetryKinds.Health, reports)], []);

        var results = await Task.WhenAll(
            Task.Run(() => Store.WriteTelemetryAsync(write, CancellationToken.None)),
            Task.Run(() => other.Telemetry.WriteTelemetryAsync(write, CancellationToken.None)));

        var storedByEither = results.SelectMany(r => Assert.Single(r).Health).Select(r => r.Sequence).Order().ToList();
        Assert.Equal(reports.Select(r => r.Sequence), storedByEither);
        Assert.Equal(200, (await Store.QueryRawAsync(new TelemetryFilter(["dev-1"], null, null, null, null, 1000), CancellationToken.None)).Count);
        Assert.Equal(reports.Sum(r => r.EventsIn), (await Store.QueryMinutesAsync(new TelemetryFilter(["dev-1"], null, null, null, null, 100), CancellationToken.None)).Sum(m => m.EventsIn));
        Assert.Equal(
            [(TelemetryRejections.ReplayedSequence, 200L)],
            (await Store.ListRejectionsAsync(CancellationToken.None)).Select(r => (r.Reason, r.Count)));
    }

    [Fact]
    public async Task WriteTelemetryAsync_TwoReplicasWriteDifferentReportsOfTheSameNewMinuteAtOnce_MinuteRollupsHoldBoth()
    {
        using var other = OpenAnotherReplica();
        const int Minutes = 12;

        // Each round is a minute no write has touched yet, so both replicas may find its rollup rows missing at once.
        for (var round = 0; round < Minutes; round++)
        {
            var minute = Now.AddMinutes(round);
            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var writes = new[] { Store, other.Telemetry }.Select((store, replica) => Task.Run(async () =>
            {
                await start.Task;
                return await store.WriteTelemetryAsync(RoundOfReplica(minute, (round * 100) + (replica * 10)), CancellationToken.None);
            })).ToList();
            start.SetResult();
            var results = await Task.WhenAll(writes);

            Assert.All(results, r => Assert.Equal(ReportsPerKind * 3, r.Sum(s => s.Count)));
        }

        var all = new TelemetryFilter(["dev-1"], null, null, null, null, 1000);
        var health = await Store.QueryMinutesAsync(all, CancellationToken.None);
        var perf = await Store.QueryPerfMinutesAsync(all, CancellationToken.None);
        var quality = await Store.QueryQualityMinutesAsync(all, CancellationToken.None);
        var everyMinute = Enumerable.Range(0, Minutes).Select(m => Now.AddMinutes(m)).ToList();

        Assert.Equal(everyMinute, health.Select(m => m.Minute));
        Assert.All(health, m => Assert.Equal((2L * ReportsPerKind, 2L * ReportsPerKind * 7), (m.Reports, m.EventsIn)));
        Assert.Equal(everyMinute, perf.Select(m => m.Minute));
        Assert.All(perf, m => Assert.Equal((2L * ReportsPerKind, 2L * ReportsPerKind * 3, 2L * ReportsPerKind * 120), (m.Records, m.LatencyCount, m.EventsIn)));
        Assert.Equal(everyMinute, quality.Select(m => m.Minute));
        Assert.All(quality, m => Assert.Equal((2L * ReportsPerKind, 2L * ReportsPerKind * 10, 2L * ReportsPerKind * 200), (m.Records, m.Labelled, m.Scores)));
    }

    [Fact]
    public async Task WriteTelemetryAsync_ReplicasWriteTheSameDevicesInDifferentOrders_AllStoredAndCountedWithoutDeadlock()
    {
        var devices = Enumerable.Range(2, 6).Select(i => $"dev-{i}").Prepend("dev-1").ToList();
        foreach (var device in devices.Skip(1))
        {
            await Enroll(device);
        }

        var replicas = Enumerable.Range(0, 3).Select(_ => OpenAnotherReplica()).ToList();
        try
        {
            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var writes = replicas.Select((replica, r) => Task.Run(async () =>
            {
                await start.Task;
                for (var round = 0; round < 4; round++)
                {
                    // Each replica visits the devices in its own order, so their row locks would cross if taken in message order.
                    var order = r % 2 == 0 ? devices : [.. Enumerable.Reverse(devices)];
                    var write = new TelemetryWrite(
                        Now,
                        [.. order.SelectMany(device => RoundOfReplica(Now, (round * 100) + (r * 10)).Batches.Select(b => b with { DeviceId = device }))],
                        []);
                    await replica.Telemetry.WriteTelemetryAsync(write, CancellationToken.None);
                }
            })).ToList();
            start.SetResult();
            await Task.WhenAll(writes);
        }
        finally
        {
            replicas.ForEach(r => r.Dispose());
        }

        var all = new TelemetryFilter(devices, null, null, null, null, 1000);
        var expected = replicas.Count * 4L * ReportsPerKind;
        var minutes = await Store.QueryMinutesAsync(all, CancellationToken.None);
        Assert.Equal(devices.Order(StringComparer.Ordinal), minutes.Select(m => m.DeviceId));
        Assert.All(minutes, m => Assert.Equal(expected, m.Reports));
        var perf = Assert.Single(await Store.QueryPerfMinutesAsync(all, CancellationToken.None));
        Assert.Equal((devices.Count * expected, devices.Count * expected * 3), (perf.Records, perf.LatencyCount));
        var quality = Assert.Single(await Store.QueryQualityMinutesAsync(all, CancellationToken.None));
        Assert.Equal(devices.Count * expected, quality.Records);
    }

    private const int ReportsPerKind = 3;

    /// <summary>One replica's reports of every kind in <paramref name="minute"/>, sequences after <paramref name="first"/> that no other write uses.</summary>
    private static TelemetryWrite RoundOfReplica(DateTimeOffset minute, int first)
    {
        var at = Enumerable.Range(1, ReportsPerKind).Select(i => (Sequence: (long)first + i, Timestamp: minute.AddSeconds(i))).ToList();
        var perf = new DeviceTelemetry("dev-1", TelemetryKinds.Perf, []) { Perf = [.. at.Select(r => Perf(r.Sequence + ReportsPerKind, Arms.Control) with { Timestamp = r.Timestamp })] };
        var quality = new DeviceTelemetry("dev-1", TelemetryKinds.Quality, []) { Quality = [.. at.Select(r => Quality(r.Sequence + (2 * ReportsPerKind), Arms.Control) with { Timestamp = r.Timestamp })] };
        var health = new DeviceTelemetry("dev-1", TelemetryKinds.Health, [.. at.Select(r => Report(r.Sequence, 7) with { Timestamp = r.Timestamp })]);

        // Messages come in any order; either merged rollup may be the first a write reaches.
        return new TelemetryWrite(minute, first / 100 % 2 == 0 ? [perf, quality, health] : [quality, perf, health], []);
    }

    [Fact]
    public async Task Migrations_RawTelemetryTables_HaveExactlyTheDeclaredColumns()
    {
        await AssertDeclared(RawTelemetryTables.Health);
        await AssertDeclared(RawTelemetryTables.Perf);
        await AssertDeclared(RawTelemetryTables.Quality);
    }

    /// <summary>
    /// The migrated table has the declaration's columns and no others, each of the type its kind is
    /// stored as, NOT NULL where the field cannot be null: a field declared without a migration fails here.
    /// </summary>
    private async Task AssertDeclared<TRecord>(RawTelemetryTable<TRecord> table)
    {
        await using var connection = await Stores.Database.OpenAsync(CancellationToken.None);
        var columns = (await connection.QueryAsync<(string Name, string Type, bool NotNull)>(
            Provider == StoreProvider.Sqlite
                ? "SELECT name, upper(type), \"notnull\" = 1 FROM pragma_table_info(@table)"
                : "SELECT column_name, data_type, is_nullable = 'NO' FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = @table",
            new { table = table.Name })).ToDictionary(c => c.Name, StringComparer.Ordinal);

        Assert.Equal(table.Columns.Order(StringComparer.Ordinal), columns.Keys.Order(StringComparer.Ordinal));
        foreach (var field in table.Schema.Fields)
        {
            var column = columns[field.StoreColumn];
            Assert.True(column.Type == StoredType(field.Kind), $"{table.Name}.{field.StoreColumn} is {column.Type}, expected {StoredType(field.Kind)}");
            Assert.True(field.Nullable || column.NotNull, $"{table.Name}.{field.StoreColumn} allows null, but {field.Name} is never null");
        }
    }

    private string StoredType(TelemetryValueKind kind) => (Provider, kind) switch
    {
        (StoreProvider.Sqlite, TelemetryValueKind.Count or TelemetryValueKind.SmallInteger) => "INTEGER",
        (StoreProvider.Sqlite, TelemetryValueKind.Real) => "REAL",
        (StoreProvider.Sqlite, TelemetryValueKind.Bytes) => "BLOB",
        (StoreProvider.Sqlite, _) => "TEXT",
        (_, TelemetryValueKind.Count or TelemetryValueKind.SmallInteger) => "bigint",
        (_, TelemetryValueKind.Real) => "double precision",
        (_, TelemetryValueKind.Bytes) => "bytea",
        _ => "text",
    };

    protected Task Enroll(string deviceId) => TelemetryTestDevices.EnrollAsync(Stores.Database, deviceId, Now);

    protected static byte[] Histogram(IEnumerable<long> micros)
    {
        var histogram = new HdrHistogram.LongHistogram(1, 60_000_000, 3);
        foreach (var value in micros)
        {
            histogram.RecordValue(value);
        }

        return EdgePlatform.ControlPlane.Host.Telemetry.LatencyHistograms.Encode(histogram);
    }

    protected static PerfRecord Perf(long sequence, string arm) => new(
        sequence, Now.AddSeconds(sequence * 10), 10_000, "m", "1", "sha256:" + new string('b', 64), arm,
        120, 100, 5, 10, 5, 0.8, 2.5, 4.75, 9.125, 1.1, Histogram([800, 2500, 4750]), 4, 25.0, 64, [1, 0, 0, 1, 0, 0, 2]);

    /// <summary>A quality record whose one feature saw exactly <paramref name="values"/>.</summary>
    protected static QualityRecord Moments(long sequence, double[] values, double? psi, long correct, long wrong)
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

    protected static QualityRecord Quality(long sequence, string arm) => new(
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

    protected static TelemetryRecord HealthReport(long sequence, long eventsIn) =>
        new(sequence, Now.AddSeconds(sequence), "m", "1", null, eventsIn, eventsIn, 0, 0, 1.5, 2.5, 3.5, 12.5, 4096);

    protected static TelemetryRecord Report(long sequence, long eventsIn) =>
        new(sequence, Now.AddSeconds(sequence * 10), "m", "1", null, eventsIn, eventsIn, 0, 0, 1, 2, 3, 10, 1024);
}

/// <summary>The contract on SQLite, and what only a SQLite file has: databases from before the current schema.</summary>
public sealed class SqliteTelemetryIngestStoreTests() : TelemetryIngestStoreContract(StoreProvider.Sqlite)
{
    [Fact]
    public async Task Open_QualityStoredBeforeExperimentColumns_ReadsThemAsZerosAndEmptyHistograms()
    {
        var quality = Quality(2, Arms.Candidate);
        await Ingest.IngestAsync([new TelemetryMessage("dev-1", TelemetryKinds.Quality, QualityArrow.Serialize("dev-1", [quality]))], CancellationToken.None);
        Scalar(SchemaRewind.ToStep13 + "SELECT 0;");
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        using var migrated = OpenAnotherReplica();
        var (_, stored) = Assert.Single(await migrated.Telemetry.QueryQualityAsync(new TelemetryFilter(["dev-1"], null, null, null, null, 10), CancellationToken.None));

        Assert.Equal(SqliteMigrations.LatestVersion, Scalar("PRAGMA user_version;"));
        Assert.Equal(
            quality with
            {
                LogLossSum = 0, LogLossSquaredSum = 0, LabelledPositiveHistogram = [], LabelledNegativeHistogram = [],
                Compared = 0, Agreements = 0, Paired = 0, PairedDifferenceSum = 0, PairedDifferenceSquaredSum = 0,
            },
            stored);
    }


    [Fact]
    public async Task Open_DatabaseFromBeforeRollups_BackfillsThemFromStoredReports()
    {
        await Stores.Telemetry.AddTelemetryAsync("dev-1", TelemetryKinds.Health, [Report(1, 10), Report(2, 20), Report(7, 70)], Now, CancellationToken.None);
        Scalar(
            SchemaRewind.Step17 + SchemaRewind.Step16 + SchemaRewind.Step15 + SchemaRewind.Step14 + SchemaRewind.Step13 + SchemaRewind.Step12 + SchemaRewind.Step11 + SchemaRewind.Step10 + SchemaRewind.Step9 + SchemaRewind.Step8 +
            "DROP TABLE rollouts; DROP TABLE telemetry_minutes; DROP TABLE telemetry_rejections; DROP TABLE telemetry_watermarks; DROP INDEX telemetry_by_time; " +
            "ALTER TABLE telemetry DROP COLUMN latency_p95_ms; ALTER TABLE telemetry DROP COLUMN queue_depth; " +
            "ALTER TABLE telemetry DROP COLUMN queue_bytes; ALTER TABLE telemetry DROP COLUMN reports_shed; PRAGMA user_version = 5; SELECT 0;");
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        using var migrated = OpenAnotherReplica();
        var minutes = await migrated.Telemetry.QueryMinutesAsync(new TelemetryFilter(null, null, null, null, null, 100), CancellationToken.None);

        Assert.Equal([(Now, 30L, 2L), (Now.AddMinutes(1), 70L, 1L)], minutes.Select(m => (m.Minute, m.EventsIn, m.Reports)));
        Assert.Equal(100, Assert.Single(await migrated.Telemetry.SummarizeAsync("dev-1", CancellationToken.None)).Latest.EventsIn);
    }


    /// <summary>Runs <paramref name="sql"/> on the test's database file and returns its first value.</summary>
    private long Scalar(string sql)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={((SqliteDatabase)Stores.Database).Path};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}

[Trait("Category", "Integration")]
public sealed class PostgresTelemetryIngestStoreTests() : TelemetryIngestStoreContract(StoreProvider.Postgres);
