using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using EdgePlatform.Cli;
using EdgePlatform.Cli.Processes;
using EdgePlatform.Contracts;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgePlatform.EndToEnd.Tests;

/// <summary>
/// The control plane killed with SIGKILL while telemetry streams in. Through mosquitto (with
/// persistence, as the control plane configures it): the control plane stores many messages per
/// transaction and acknowledges them to the broker only after the commit, so whatever devices got
/// acknowledged by the broker is stored after the restart, once each. Through the embedded broker,
/// which dies with the control plane: a device is acknowledged only once its report is stored, so
/// every acknowledged report is there after the restart before any device sends again.
/// </summary>
[Trait("Category", "EndToEnd")]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "xunit disposes the test class through IAsyncLifetime.DisposeAsync.")]
public sealed class IngestCrashTests : IAsyncLifetime
{
    private const int Devices = 8;
    private const int MessagesPerDevice = 400;

    private readonly ProcessGroup _processes = new();
    private readonly string _root = Directory.CreateTempSubdirectory("edgeplatform-e2e-crash-").FullName;
    private readonly List<IMqttClient> _clients = [];
    private ServiceProcess? _mosquitto;
    private ApiClient? _api;
    private readonly RestartableServer _control;

    public IngestCrashTests() => _control = new RestartableServer(_processes, _root);

    private string MosquittoDirectory => Path.Combine(_root, "mosquitto");

    [Fact]
    public async Task ServerKilledWhileTelemetryStreamsIn_Restarted_StoresEveryAcknowledgedReportOnce()
    {
        var server = await StartServerAsync();
        _mosquitto = await ServiceProcess.StartMosquittoAsync(MosquittoDirectory, Path.Combine(_root, "mosquitto.log"));
        var devices = await EnrollAndConnectAsync(server);
        await WaitSubscribedAsync(devices[0]);

        // Every device publishes its reports one per message, each acknowledged by mosquitto before the next.
        var acknowledged = new long[Devices];
        var publishing = Task.WhenAll(devices.Select((d, i) => PublishUntilRefusedAsync(d.Id, d.Client, 1, i, acknowledged)));

        long storedAtKill = 0;
        await Wait.UntilAsync(async () => (storedAtKill = await StoredAsync()) >= Devices * 20, "the control plane to store the first reports");
        server.Kill();
        await server.WaitForExitAsync(default);
        await publishing.WaitAsync(TimeSpan.FromSeconds(120));
        Assert.True(acknowledged.All(a => a == MessagesPerDevice), $"mosquitto refused reports: acknowledged {string.Join(", ", acknowledged)} of {MessagesPerDevice} per device");

        // mosquitto may have acknowledged every report by now; what matters is that it still held some for the control plane.
        Assert.True(storedAtKill < Devices * MessagesPerDevice, "the control plane had stored every report before the kill; nothing was in flight");

        var restarted = await StartServerAsync();
        try
        {
            await Wait.UntilAsync(async () => await StoredAsync() >= Devices * MessagesPerDevice, $"all {Devices * MessagesPerDevice} reports stored after the restart");
        }
        catch (TimeoutException)
        {
            Assert.Fail($"{await StoredAsync()} of {Devices * MessagesPerDevice} reports stored after the restart\n{restarted.LogTail(30)}\n{string.Join('\n', (await _api!.GetTelemetryAsync(null, default)).Select(s => $"{s.DeviceId}: {s.Reports} reports, last {s.LastSequence}"))}");
        }

        var summaries = await _api!.GetTelemetryAsync(null, default);
        Assert.Equal(Devices, summaries.Count);
        Assert.All(summaries, s => Assert.Equal((MessagesPerDevice, MessagesPerDevice), (s.Reports, s.LastSequence)));
        Assert.Equal(Devices * MessagesPerDevice * 10L, summaries.Sum(s => s.Latest.EventsIn));
        var ingest = await _api.GetTelemetryIngestAsync(default);
        Assert.DoesNotContain(ingest.Rejections, r => r.Reason != TelemetryRejections.ReplayedSequence);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }

        _api?.Dispose();
        await _processes.DisposeAsync();
        if (_mosquitto is not null)
        {
            await _mosquitto.DisposeAsync();
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A log still being flushed keeps the folder; it is under the system temp directory.
        }
    }

    [Fact]
    public async Task EmbeddedBrokerKilledWhileTelemetryStreamsIn_EveryAcknowledgedReportIsStoredBeforeDevicesSendAgain()
    {
        var server = await StartServerAsync(embeddedBroker: true);
        var devices = await EnrollAndConnectAsync(server);

        // Every device publishes its reports one per message until the broker is gone.
        var acknowledged = new long[Devices];
        var publishing = Task.WhenAll(devices.Select((d, i) => PublishUntilRefusedAsync(d.Id, d.Client, 1, i, acknowledged)));
        await Wait.UntilAsync(async () => await StoredAsync() >= Devices * 20, "the control plane to store the first reports");
        server.Kill();
        await server.WaitForExitAsync(default);
        await publishing.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(acknowledged.All(a => a < MessagesPerDevice), "a device had published everything before the kill; nothing was in flight");

        // Before any device sends again: each one's acknowledged reports are all stored, without gaps.
        await StartServerAsync(embeddedBroker: true);
        var afterRestart = (await _api!.GetTelemetryAsync(null, default)).ToDictionary(s => s.DeviceId);
        for (var i = 0; i < Devices; i++)
        {
            var summary = afterRestart[devices[i].Id];
            Assert.True(
                summary.Reports == summary.LastSequence && summary.LastSequence >= acknowledged[i],
                $"{devices[i].Id}: {acknowledged[i]} report(s) acknowledged before the kill, {summary.Reports} stored up to sequence {summary.LastSequence}");
        }

        // The devices resend what was never acknowledged (some of it was stored) and go on to the end.
        await Task.WhenAll(devices.Select(async (d, i) =>
        {
            await d.Client.ConnectAsync(d.Client.Options);
            await PublishUntilRefusedAsync(d.Id, d.Client, acknowledged[i] + 1, i, acknowledged);
        }));
        Assert.All(acknowledged, a => Assert.Equal(MessagesPerDevice, a));
        var summaries = await _api.GetTelemetryAsync(null, default);
        Assert.All(summaries, s => Assert.Equal((MessagesPerDevice, MessagesPerDevice), (s.Reports, s.LastSequence)));
        Assert.Equal(Devices * MessagesPerDevice * 10L, summaries.Sum(s => s.Latest.EventsIn));
        var ingest = await _api.GetTelemetryIngestAsync(default);
        Assert.DoesNotContain(ingest.Rejections, r => r.Reason != TelemetryRejections.ReplayedSequence);
    }

    /// <summary>Publishes reports from <paramref name="first"/> on, recording the last one acknowledged, until the broker is gone or refuses one.</summary>
    private async Task PublishUntilRefusedAsync(string deviceId, IMqttClient client, long first, int index, long[] acknowledged)
    {
        for (var sequence = first; sequence <= MessagesPerDevice; sequence++)
        {
            try
            {
                var result = await client.PublishAsync(new MqttApplicationMessageBuilder()
                    .WithTopic(Topics.Telemetry(deviceId, TelemetryKinds.Health))
                    .WithPayload(TelemetryArrow.Serialize(deviceId, [Report(sequence)]))
                    .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                    .Build());
                if (!result.IsSuccess)
                {
                    return;
                }
            }
            catch (MQTTnet.Exceptions.MqttCommunicationException)
            {
                return;
            }

            acknowledged[index] = sequence;
        }
    }

    private async Task<HostProcess> StartServerAsync(bool embeddedBroker = false)
    {
        var (server, endpoints) = await _control.StartAsync(
            embeddedBroker
                ? [$"--Server:MqttPort={_control.MqttPort}"]
                : ["--Broker:Mode=external", "--Broker:Host=127.0.0.1", $"--Broker:Port={_control.MqttPort}", $"--Broker:MosquittoConfigDirectory={MosquittoDirectory}"]);
        _api ??= await _control.AdminClientAsync(endpoints);
        return server;
    }

    private async Task<long> StoredAsync() => (await _api!.GetTelemetryAsync(null, default)).Sum(s => s.Reports);

    private async Task<IReadOnlyList<(string Id, IMqttClient Client)>> EnrollAndConnectAsync(HostProcess server)
    {
        using var http = new HttpClient { BaseAddress = _api!.Server };
        var endpoints = await _control.ReadEndpointsAsync();
        var key = (await File.ReadAllTextAsync(endpoints.EnrollmentKeyFile)).Trim();
        var devices = new List<(string, IMqttClient)>();
        for (var i = 0; i < Devices; i++)
        {
            var deviceId = $"crash-{i:D2}";
            using var deviceKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var csr = new CertificateRequest($"CN={deviceId}", deviceKey, HashAlgorithmName.SHA256).CreateSigningRequestPem();
            using var response = await http.PostAsJsonAsync("api/v1/enrollments/devices", new EnrollmentRequest(deviceId, EdgePlatform.Security.EnrollmentKeys.Derive(key, deviceId), null, csr), ContractsJsonContext.Default.EnrollmentRequest);
            Assert.True(response.IsSuccessStatusCode, $"enrollment of {deviceId}: {response.StatusCode}\n{server.LogTail(20)}");
            var enrollment = (await response.Content.ReadFromJsonAsync(ContractsJsonContext.Default.EnrollmentResponse))!;
            using var issued = X509Certificate2.CreateFromPem(enrollment.Certificate);
            var client = new MqttClientFactory().CreateMqttClient();
            _clients.Add(client);
            await client.ConnectAsync(new MqttClientOptionsBuilder()
                .WithTcpServer("127.0.0.1", _control.MqttPort)
                .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
                .WithClientId(deviceId)
                .WithTlsOptions(new MqttClientTlsOptionsBuilder()
                    .UseTls()
                    .WithTargetHost(enrollment.MqttHost)
                    .WithClientCertificates([issued.CopyWithPrivateKey(deviceKey)])
                    .WithTrustChain([X509Certificate2.CreateFromPem(enrollment.CaCertificate)])
                    .Build())
                .Build());
            devices.Add((deviceId, client));
        }

        return devices;
    }

    /// <summary>mosquitto answers "no matching subscribers" until the control plane's subscription is in place.</summary>
    private static Task WaitSubscribedAsync((string Id, IMqttClient Client) device) =>
        Wait.UntilAsync(
            async () => (await device.Client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic($"{Topics.DeviceRoot}/{device.Id}/status")
                .WithPayload(Encoding.UTF8.GetBytes(DeviceStatuses.Online))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .Build())).ReasonCode == MqttClientPublishReasonCode.Success,
            "the control plane to subscribe at mosquitto");

    // Reports from now on: the restarted server's retention pass would drop rollups of older minutes.
    private readonly DateTimeOffset _start = DateTimeOffset.UtcNow;

    private TelemetryRecord Report(long sequence) =>
        new(sequence, _start.AddSeconds(sequence), "m", "1", null, 10, 10, 0, 0, 1, 2, 3, 4, 5);
}
