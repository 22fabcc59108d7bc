using System.Net.Http.Json;
using EdgePlatform.Contracts;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgePlatform.ControlPlane.Host.Tests.Broker;

/// <summary>Telemetry as a device really sends it: through the embedded broker into the SQLite store.</summary>
[Collection(MetricsScrapers.Name)]
public sealed class TelemetryOverBrokerTests(ControlPlaneFactory server) : IClassFixture<ControlPlaneFactory>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Publish_MalformedForeignAndReplayedBatches_RejectedAndCountedWhileValidOnesAreIngested()
    {
        const string Device = "dev-telemetry-mix";
        using var device = await server.EnrollAsync(Device);
        using var other = await server.EnrollAsync("dev-telemetry-other");
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(device.MqttOptions()).WaitAsync(Timeout);

        await PublishAsync(client, Device, TelemetryArrow.Serialize(Device, [Report(1), Report(2), Report(3)]));
        await PublishAsync(client, Device, "{\"sequence\": 4}"u8.ToArray());
        await PublishAsync(client, Device, TelemetryArrow.Serialize("dev-telemetry-other", [Report(4)]));
        await PublishAsync(client, Device, TelemetryArrow.Serialize(Device, [Report(1), Report(2), Report(3)]));
        await PublishAsync(client, Device, TelemetryArrow.Serialize(Device, [Report(4), Report(5)]));

        using var http = server.CreateClient();
        DeviceTelemetrySummary? summary = null;
        var deadline = DateTime.UtcNow + Timeout;
        while ((summary = await SummaryAsync(http, Device)) is not { Reports: 5 } && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        var stats = await http.GetFromJsonAsync(new Uri("/api/v1/telemetry/ingest", UriKind.Relative), ContractsJsonContext.Default.TelemetryIngestStats);
        Assert.Equal(5, summary?.Reports);
        Assert.Equal(5 * 10, summary!.Latest.EventsIn);
        Assert.Equal(
            [(TelemetryRejections.ForeignDevice, 1L), (TelemetryRejections.Malformed, 1L), (TelemetryRejections.ReplayedSequence, 3L)],
            stats!.Rejections.Where(r => r.DeviceId == Device).Select(r => (r.Reason, r.Count)));

        // The same counts reach Prometheus, behind the API's tokens.
        var metrics = await MetricsAsync(http, "reason=\"malformed\"");
        Assert.Contains("edgeplatform_telemetry_rejections_total{", metrics, StringComparison.Ordinal);
        Assert.Contains("reason=\"malformed\"", metrics, StringComparison.Ordinal);
        Assert.Contains("edgeplatform_fleet_events_total{", metrics, StringComparison.Ordinal);
        Assert.Contains("edgeplatform_telemetry_ingest_messages_total", metrics, StringComparison.Ordinal);
        using var anonymous = server.CreateAnonymousClient();
        using var refused = await anonymous.GetAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, refused.StatusCode);

        // Data scientists get the raw reports as Parquet.
        var parquet = await http.GetByteArrayAsync(new Uri($"/api/v1/telemetry/export?format=parquet&device={Device}", UriKind.Relative));
        using var stream = new MemoryStream(parquet);
        var rows = await Parquet.Serialization.ParquetSerializer.DeserializeUntypedAsync(stream);
        Assert.Equal(5, rows.Data.Count);
        Assert.Equal([1L, 2L, 3L, 4L, 5L], rows.Data.Select(r => (long)r["sequence"]!));
    }

    [Fact]
    public async Task Publish_PerfAndQuality_QueriedByKindAndArmAndExportedAsParquetPerKind()
    {
        const string Device = "dev-telemetry-kinds";
        using var device = await server.EnrollAsync(Device);
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(device.MqttOptions()).WaitAsync(Timeout);

        await PublishAsync(client, Device, PerfArrow.Serialize(Device, [Perf(1, Arms.Control, [1_000, 2_000]), Perf(2, Arms.Candidate, [9_000])]), TelemetryKinds.Perf);
        await PublishAsync(client, Device, QualityArrow.Serialize(Device, [Quality(3, Arms.Control)]), TelemetryKinds.Quality);
        await PublishAsync(client, Device, TelemetryArrow.Serialize(Device, [Report(3)]), TelemetryKinds.Health);

        using var http = server.CreateClient();
        TelemetryQueryResult? quality = null;
        var deadline = DateTime.UtcNow + Timeout;
        while ((quality = await QueryAsync(http, $"kind=quality&resolution=raw&device={Device}")) is not { Quality.Count: 1 } && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        var raw = await QueryAsync(http, $"kind=perf&resolution=raw&device={Device}&arm=candidate");
        var minutes = await QueryAsync(http, $"kind=perf&device={Device}&arm=control");
        var qualityMinute = Assert.Single((await QueryAsync(http, $"kind=quality&device={Device}"))!.QualityMinutes);
        Assert.Equal(("rpm", 3L), (Assert.Single(qualityMinute.Features).Name, qualityMinute.Features[0].Count));
        Assert.Equal("sha256:" + new string('c', 64), Assert.Single(quality!.Quality).Record.ManifestDigest);
        Assert.Equal([2L], raw!.Perf.Select(p => p.Record.Sequence));
        var minute = Assert.Single(minutes!.PerfMinutes);
        Assert.Equal((Arms.Control, 2L), (minute.Arm, minute.LatencyCount));
        Assert.InRange(minute.LatencyP99Ms, 1.99, 2.01);

        // The health report sent with the same sequence as the quality record is a replay.
        var stats = await http.GetFromJsonAsync(new Uri("/api/v1/telemetry/ingest", UriKind.Relative), ContractsJsonContext.Default.TelemetryIngestStats);
        Assert.Equal([(TelemetryRejections.ReplayedSequence, 1L)], stats!.Rejections.Where(r => r.DeviceId == Device).Select(r => (r.Reason, r.Count)));

        foreach (var (kind, column, expected) in new[] { ("perf&resolution=raw", "arm", (object)Arms.Control), ("perf&resolution=minute&arm=control", "latency_count", 2L), ("quality&resolution=raw", "feature_names", null!), ("quality&resolution=minute", "feature_variance", null!) })
        {
            var parquet = await http.GetByteArrayAsync(new Uri($"/api/v1/telemetry/export?format=parquet&device={Device}&kind={kind}", UriKind.Relative));
            using var stream = new MemoryStream(parquet);
            var rows = await Parquet.Serialization.ParquetSerializer.DeserializeUntypedAsync(stream);
            Assert.NotEmpty(rows.Data);
            Assert.True(rows.Data[0].ContainsKey(column), $"{kind}: no column {column}");
            if (expected is not null)
            {
                Assert.Equal(expected, rows.Data[0][column]);
            }
        }

        // Fleet series per model version and arm reach Prometheus.
        var metrics = await MetricsAsync(http, "arm=\"candidate\"");
        foreach (var series in new[] { "edgeplatform_model_events_total{", "edgeplatform_model_latency_seconds_bucket{", "edgeplatform_model_labelled_total{", "edgeplatform_model_drift_psi_max{" })
        {
            Assert.True(metrics.Contains(series, StringComparison.Ordinal), $"no {series} in\n{metrics}");
        }

        Assert.Contains("arm=\"candidate\"", metrics, StringComparison.Ordinal);

        using var bad = await http.GetAsync(new Uri("/api/v1/telemetry?kind=events", UriKind.Relative));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("kind", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var armOfHealth = await http.GetAsync(new Uri("/api/v1/telemetry?arm=control", UriKind.Relative));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, armOfHealth.StatusCode);
    }

    [Fact]
    public async Task Export_UnsupportedFormat_NamesTheField()
    {
        using var http = server.CreateClient();

        using var response = await http.GetAsync(new Uri("/api/v1/telemetry/export?format=csv", UriKind.Relative));

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("format: 'csv' is not supported; use 'parquet'", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    internal static async Task PublishAsync(IMqttClient client, string deviceId, byte[] payload, string kind = TelemetryKinds.Health)
    {
        var result = await client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(Topics.Telemetry(deviceId, kind))
            .WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build()).WaitAsync(Timeout);
        Assert.True(result.IsSuccess, $"publish refused: {result.ReasonCode}");
    }

    private static async Task<DeviceTelemetrySummary?> SummaryAsync(HttpClient http, string deviceId) =>
        (await http.GetFromJsonAsync(new Uri($"/api/v1/telemetry/summary?device={deviceId}", UriKind.Relative), ContractsJsonContext.Default.IReadOnlyListDeviceTelemetrySummary))!
            .SingleOrDefault();

    /// <summary>
    /// /metrics once it shows <paramref name="expected"/>: the exporter serves a scrape from its
    /// cache for a moment, so a scrape right after another test's may not hold this test's data yet.
    /// </summary>
    private static async Task<string> MetricsAsync(HttpClient http, string expected)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            var metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
            if (metrics.Contains(expected, StringComparison.Ordinal) || DateTime.UtcNow > deadline)
            {
                return metrics;
            }

            await Task.Delay(100);
        }
    }

    private static Task<TelemetryQueryResult?> QueryAsync(HttpClient http, string query) =>
        http.GetFromJsonAsync(new Uri($"/api/v1/telemetry?{query}", UriKind.Relative), ContractsJsonContext.Default.TelemetryQueryResult);

    internal static PerfRecord Perf(long sequence, string arm, long[] latencyMicros)
    {
        var histogram = new HdrHistogram.LongHistogram(1, 60_000_000, 3);
        foreach (var micros in latencyMicros)
        {
            histogram.RecordValue(micros);
        }

        return new(
            sequence, DateTimeOffset.UtcNow, 10_000, "m", "1", "sha256:" + new string('b', 64), arm, 3, 3, 0, 0, 0, 1, 2, 2, 2, 1.5,
            EdgePlatform.ControlPlane.Host.Telemetry.LatencyHistograms.Encode(histogram), 1, 3, 3, [0, 0, 1]);
    }

    internal static QualityRecord Quality(long sequence, string arm) => new(
        sequence, DateTimeOffset.UtcNow, "m", "1", "sha256:" + new string('c', 64), arm, 3, 0.5, [0, 0.5, 1], [1, 2], ["rpm"], [3], [1460], [10], [1450], [1470],
        [0.1], [0, 0, 1, 1, 1, 0, 0, 0, 0, 0], 0.1, 2, 1, 0, 1, 0, 0, 0, 0);

    internal static TelemetryRecord Report(long sequence) =>
        new(sequence, Start.AddSeconds(sequence), "m", "1", null, 10, 10, 0, 0, 1, 2, 3, 4, 5);
}
