using System.Net.Http.Json;
using EdgePlatform.Contracts;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgePlatform.ControlPlane.Host.Tests.Broker;

/// <summary>Telemetry as a device really sends it: through the embedded broker into the SQLite store.</summary>
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
        var metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
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
    public async Task Export_UnsupportedFormat_NamesTheField()
    {
        using var http = server.CreateClient();

        using var response = await http.GetAsync(new Uri("/api/v1/telemetry/export?format=csv", UriKind.Relative));

        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("format: 'csv' is not supported; use 'parquet'", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static async Task PublishAsync(IMqttClient client, string deviceId, byte[] payload)
    {
        var result = await client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(Topics.Telemetry(deviceId, TelemetryKinds.Health))
            .WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build()).WaitAsync(Timeout);
        Assert.True(result.IsSuccess, $"publish refused: {result.ReasonCode}");
    }

    private static async Task<DeviceTelemetrySummary?> SummaryAsync(HttpClient http, string deviceId) =>
        (await http.GetFromJsonAsync(new Uri($"/api/v1/telemetry/summary?device={deviceId}", UriKind.Relative), ContractsJsonContext.Default.IReadOnlyListDeviceTelemetrySummary))!
            .SingleOrDefault();

    private static TelemetryRecord Report(long sequence) =>
        new(sequence, Start.AddSeconds(sequence), "m", "1", null, 10, 10, 0, 0, 1, 2, 3, 4, 5);
}
