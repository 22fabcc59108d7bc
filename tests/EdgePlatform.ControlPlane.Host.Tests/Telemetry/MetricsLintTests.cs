using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using EdgePlatform.Contracts;
using EdgePlatform.ControlPlane.Host.Tests.Broker;
using EdgePlatform.ControlPlane.Host.Tests.Datasets;
using EdgePlatform.ControlPlane.Host.Tests.Registry;
using MQTTnet;

namespace EdgePlatform.ControlPlane.Host.Tests.Telemetry;

/// <summary>
/// <c>/metrics</c> as Prometheus's own linter reads it: base units (seconds, bytes), counters
/// ending in <c>_total</c>, help on every family. Scraped after traffic that fills every family
/// the server exports, so a series that only appears under load is linted too.
/// </summary>
[Collection(MetricsScrapers.Name)]
[Trait("Category", "Integration")]
public sealed class MetricsLintTests(ControlPlaneFactory server) : IClassFixture<ControlPlaneFactory>
{
    private const string Promtool = "EDGEPLATFORM_TEST_PROMTOOL";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Metrics_AfterTelemetryAndRegistryTraffic_PassPromtoolCheck()
    {
        var promtool = TestServices.Require(Promtool, "promtool (Debian prometheus)");
        const string Device = "dev-metrics-lint";
        using var device = await server.EnrollAsync(Device);
        using var mqtt = new MqttClientFactory().CreateMqttClient();
        await mqtt.ConnectAsync(device.MqttOptions()).WaitAsync(Timeout);
        await TelemetryOverBrokerTests.PublishAsync(mqtt, Device, TelemetryArrow.Serialize(Device, [TelemetryOverBrokerTests.Report(1)]));
        await TelemetryOverBrokerTests.PublishAsync(mqtt, Device, "{\"sequence\": 2}"u8.ToArray());
        await TelemetryOverBrokerTests.PublishAsync(
            mqtt, Device, PerfArrow.Serialize(Device, [TelemetryOverBrokerTests.Perf(3, Arms.Control, [1_000, 2_000])]), TelemetryKinds.Perf);
        await TelemetryOverBrokerTests.PublishAsync(
            mqtt, Device, QualityArrow.Serialize(Device, [TelemetryOverBrokerTests.Quality(4, Arms.Control)]), TelemetryKinds.Quality);

        using var http = server.CreateClient();
        var blob = RandomNumberGenerator.GetBytes(512);
        var digest = ContentDigest.Compute(blob);
        using (var pushed = await http.PostAsync(BlobUploadApiTests.Url($"/v2/tests/metrics-lint/blobs/uploads/?digest={digest}"), BlobUploadApiTests.Octets(blob)))
        {
            Assert.Equal(HttpStatusCode.Created, pushed.StatusCode);
        }

        Assert.Equal(blob, await http.GetByteArrayAsync(BlobUploadApiTests.Url($"/v2/tests/metrics-lint/blobs/{digest}")));

        var metrics = await ScrapeOnceShowingAsync(
            http,
            "edgeplatform_fleet_tail_latency_seconds_bucket{",
            "edgeplatform_model_latency_seconds_bucket{",
            "edgeplatform_model_drift_psi_max{",
            "edgeplatform_telemetry_rejections_total{",
            "edgeplatform_registry_served_bytes_total{");

        var (exitCode, output) = await CheckAsync(promtool, metrics);
        Assert.True(exitCode == 0, $"promtool check metrics exited {exitCode}:\n{output}\n--- scraped /metrics ---\n{metrics}");
    }

    /// <summary>/metrics once every one of <paramref name="series"/> is in it (ingest is asynchronous and the exporter caches a scrape for a moment).</summary>
    private static async Task<string> ScrapeOnceShowingAsync(HttpClient http, params string[] series)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            var metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
            var missing = series.Where(s => !metrics.Contains(s, StringComparison.Ordinal)).ToList();
            if (missing.Count == 0)
            {
                return metrics;
            }

            Assert.True(DateTime.UtcNow < deadline, $"/metrics never showed {string.Join(", ", missing)}:\n{metrics}");
            await Task.Delay(100);
        }
    }

    private static async Task<(int ExitCode, string Output)> CheckAsync(string promtool, string metrics)
    {
        using var process = Process.Start(new ProcessStartInfo(promtool, ["check", "metrics"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(metrics);
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(Timeout);
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, (await stdout) + (await stderr));
    }
}
