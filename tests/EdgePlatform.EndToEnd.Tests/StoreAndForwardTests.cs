namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// Telemetry store-and-forward with real processes: the broker stopped while the agent goes on
/// handling events (with the embedded broker, the whole control plane), and the agent killed
/// with SIGKILL while it drains its backlog. The cloud's counts must equal what the agent
/// handled, exactly. Run against the embedded broker and against mosquitto.
/// </summary>
[Trait("Category", "EndToEnd")]
public abstract class StoreAndForwardTests(StoreAndForwardFixture platform)
{
    protected StoreAndForwardFixture Platform => platform;

    [Fact]
    public async Task BrokerStopped_AgentKeepsScoring_CloudEventCountsEqualTheAgentsExactly()
    {
        var before = await CountedEventsAsync();
        await platform.ScoreAsync(20);

        await platform.StopBrokerAsync();
        await platform.ScoreAsync(30);

        // Several heartbeats pass with the broker gone, so reports pile up in the agent's spool.
        await Task.Delay(TimeSpan.FromSeconds(3));
        await platform.StartBrokerAsync();

        var summary = await WaitForEventsAsync(before + 50);
        Assert.Equal(before + 50, summary.Latest.EventsIn);
        Assert.Equal(before + 50, summary.Latest.DeadLettered);

        // Every report from the first to the last arrived exactly once: none lost, none counted twice.
        await AssertEveryReportOnceAsync(summary);
        Assert.False(platform.Agent.HasExited);
    }

    [Fact]
    public async Task AgentKilledMidDrain_Restarted_NoReportLostNoneCountedTwice()
    {
        var before = await CountedEventsAsync();
        var reportsBefore = (await platform.SummaryAsync())?.Reports ?? 0;
        await platform.StopBrokerAsync();

        // Ten heartbeats' worth of events while the cloud is away: a backlog of at least ten reports.
        for (var i = 0; i < 10; i++)
        {
            await platform.ScoreAsync(4);
            await Task.Delay(TimeSpan.FromMilliseconds(1100));
        }

        await platform.StartBrokerAsync();

        // The agent drains two reports a second; kill it once the cloud has some of the backlog but not all.
        await Wait.UntilAsync(
            async () => (await platform.SummaryAsync())?.Reports >= reportsBefore + 3,
            "the agent to start draining its backlog");
        platform.Agent.Kill();
        await platform.Agent.WaitForExitAsync(default);
        var atKill = await platform.SummaryAsync();
        Assert.True(atKill!.Latest.EventsIn < before + 40, $"the kill came after the drain finished ({atKill.Latest.EventsIn - before} of 40 events counted)");

        await platform.StartAgentAsync();

        var summary = await WaitForEventsAsync(before + 40);
        Assert.Equal(before + 40, summary.Latest.EventsIn);
        await AssertEveryReportOnceAsync(summary);
        var ingest = await platform.Api.GetTelemetryIngestAsync(default);
        Assert.DoesNotContain(ingest.Rejections, r => r.Reason != Contracts.TelemetryRejections.ReplayedSequence);
    }

    /// <summary>
    /// Health reports are numbered from 1 without gaps (no model is deployed, so there are no perf
    /// or quality reports between them): the cloud holds each once when it holds as many as the last
    /// number. When it does not, says which numbers are missing, with the processes' warnings.
    /// </summary>
    protected async Task AssertEveryReportOnceAsync(Contracts.DeviceTelemetrySummary summary)
    {
        if (summary.LastSequence == summary.Reports)
        {
            return;
        }

        var raw = await platform.Api.QueryTelemetryAsync(
            new Dictionary<string, string?> { ["device"] = StoreAndForwardFixture.Device, ["resolution"] = "raw", ["limit"] = "10000" },
            default);
        var held = raw.Raw.Select(p => p.Record.Sequence).ToHashSet();
        var missing = Enumerable.Range(1, (int)summary.LastSequence).Where(s => !held.Contains(s));
        Assert.Fail(
            $"{summary.Reports} report(s) stored up to sequence {summary.LastSequence}; missing: {string.Join(", ", missing)}\n"
            + platform.Warnings());
    }

    // Each test ends with the spool drained, so what the cloud counts now is all the agent handled so far.
    protected async Task<long> CountedEventsAsync() => (await platform.SummaryAsync())?.Latest.EventsIn ?? 0;

    protected async Task<Contracts.DeviceTelemetrySummary> WaitForEventsAsync(long expected)
    {
        Contracts.DeviceTelemetrySummary? summary = null;
        await Wait.UntilAsync(
            async () =>
            {
                summary = await platform.SummaryAsync();
                return summary?.Latest.EventsIn >= expected;
            },
            $"the cloud to count {expected} events");

        // A duplicate would show only after more reports arrive: let the spool drain fully and read again.
        await Wait.UntilAsync(
            async () => (await platform.SummaryAsync())!.Latest.QueueDepth == 0,
            "the agent's spool to drain");
        return (await platform.SummaryAsync())!;
    }
}

/// <summary>The embedded broker: stopping it stops the control plane; also the telemetry commands of edgectl.</summary>
public sealed class EmbeddedBrokerStoreAndForwardTests(StoreAndForwardFixture platform) : StoreAndForwardTests(platform), IClassFixture<StoreAndForwardFixture>
{
    [Fact]
    public async Task Edgectl_TelemetryQueryRejectionsAndParquetExport_ShowTheDevicesReports()
    {
        var before = await CountedEventsAsync();
        await Platform.ScoreAsync(3);
        await WaitForEventsAsync(before + 3);
        var server = new[] { "--server", Platform.Api.Server.ToString(), "--token", Platform.AdminToken };
        var file = Path.Combine(Platform.Root, "telemetry.parquet");

        var (queryExit, query) = await Edgectl.RunAsync(["telemetry", "query", "--device", StoreAndForwardFixture.Device, "--resolution", "raw", "--output", "json", .. server]);
        var (rejectionsExit, rejections) = await Edgectl.RunAsync(["telemetry", "rejections", .. server]);
        var (exportExit, export) = await Edgectl.RunAsync(["telemetry", "export", "--format", "parquet", "-f", file, .. server]);
        var (badExit, bad) = await Edgectl.RunAsync(["telemetry", "export", "--format", "csv", "-f", file, .. server]);

        Assert.True(queryExit == 0, query);
        var raw = System.Text.Json.JsonSerializer.Deserialize(query, Contracts.ContractsJsonContext.Default.TelemetryQueryResult)!.Raw;
        Assert.NotEmpty(raw);
        Assert.All(raw, p => Assert.Equal(StoreAndForwardFixture.Device, p.DeviceId));
        Assert.True(rejectionsExit == 0, rejections);
        Assert.Contains("report(s) accepted", rejections, StringComparison.Ordinal);
        Assert.True(exportExit == 0, export);
        Assert.Equal("PAR1"u8.ToArray(), (await File.ReadAllBytesAsync(file))[..4]);
        Assert.NotEqual(0, badExit);
        Assert.Contains("'csv' is not supported", bad, StringComparison.Ordinal);
    }
}

/// <summary>mosquitto as the device broker, stopped and started while the control plane stays up.</summary>
public sealed class MosquittoStoreAndForwardTests(MosquittoStoreAndForwardFixture platform) : StoreAndForwardTests(platform), IClassFixture<MosquittoStoreAndForwardFixture>;
