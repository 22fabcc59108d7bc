using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using EdgePlatform.Cli;
using EdgePlatform.Cli.Processes;
using EdgePlatform.Contracts;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgePlatform.Benchmarks.Telemetry;

/// <summary>
/// The control plane as its own process with its embedded broker, or with mosquitto run from the
/// configuration the control plane writes (as README's mosquitto section says to), both on loopback.
/// </summary>
internal sealed class ServerUnderTest : IAsyncDisposable
{
    private ServerUnderTest(HostProcess process, Process? mosquitto, HttpClient http, ApiClient api, string enrollmentKey)
    {
        Process = process;
        Mosquitto = mosquitto;
        Http = http;
        Api = api;
        EnrollmentKey = enrollmentKey;
    }

    public HostProcess Process { get; }

    public Process? Mosquitto { get; }

    /// <summary>Anonymous client of the API, for what devices call (enrollment).</summary>
    public HttpClient Http { get; }

    public ApiClient Api { get; }

    public string EnrollmentKey { get; }

    public static async Task<ServerUnderTest> StartAsync(ProcessGroup processes, string root, int? mosquittoPort, CancellationToken cancellationToken)
    {
        var data = Path.Combine(root, "server");
        var mosquittoDirectory = Path.Combine(root, "mosquitto");
        var tokenFile = Path.Combine(root, "admin.token");
        var server = processes.Start(
            "server",
            HostProcess.ServerAssembly,
            [
                $"--Server:DataDirectory={data}", "--Server:HttpPort=0", "--Server:MqttPort=0", $"--Server:InitialAdminTokenFile={tokenFile}",
                "--Logging:LogLevel:Default=Warning",
                .. mosquittoPort is { } port
                    ? (string[])["--Broker:Mode=external", "--Broker:Host=127.0.0.1", $"--Broker:Port={port.ToString(CultureInfo.InvariantCulture)}", $"--Broker:MosquittoConfigDirectory={mosquittoDirectory}"]
                    : [],
            ],
            Path.Combine(root, "server.log"));
        var endpointsFile = Path.Combine(data, ServerEndpoints.FileName);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!File.Exists(endpointsFile) || !File.Exists(tokenFile))
        {
            if (server.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"the server did not start:\n{server.LogTail(40)}");
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }

        Process? mosquitto = null;
        if (mosquittoPort is not null)
        {
            mosquitto = StartMosquitto(mosquittoDirectory, Path.Combine(root, "mosquitto.log"));
        }

        var endpoints = JsonSerializer.Deserialize(await File.ReadAllBytesAsync(endpointsFile, cancellationToken).ConfigureAwait(false), ContractsJsonContext.Default.ServerEndpoints)!;
        var token = (await File.ReadAllTextAsync(tokenFile, cancellationToken).ConfigureAwait(false)).Trim();
        var key = (await File.ReadAllTextAsync(endpoints.EnrollmentKeyFile, cancellationToken).ConfigureAwait(false)).Trim();
        var http = new HttpClient { BaseAddress = new Uri(endpoints.HttpUrl) };
        Console.WriteLine($"server pid {server.Id}{(mosquitto is null ? ", embedded broker" : $", mosquitto pid {mosquitto.Id}")}");
        return new ServerUnderTest(server, mosquitto, http, new ApiClient(new Uri(endpoints.HttpUrl), token), key);
    }

    /// <summary>Waits until the control plane is subscribed: a broker without a subscriber answers "no matching subscribers".</summary>
    public async Task WaitSubscribedAsync(IngestBenchmark.Device device, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var result = await device.Client.PublishAsync(
                new MqttApplicationMessageBuilder()
                    .WithTopic($"{Topics.DeviceRoot}/{device.Id}/status")
                    .WithPayload(Encoding.UTF8.GetBytes(DeviceStatuses.Online))
                    .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                    .Build(),
                cancellationToken).ConfigureAwait(false);
            if (result.ReasonCode == MqttClientPublishReasonCode.Success)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"the control plane did not subscribe at the broker: {result.ReasonCode}\n{Process.LogTail(40)}");
            }

            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Store transactions and broker messages ingested so far, from the server's <c>/metrics</c>.</summary>
    public async Task<(double Transactions, double Messages)> IngestBatchesAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "metrics");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Api.Token);
        using var response = await Http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        return (Sum(text, "edgeplatform_telemetry_ingest_transactions_total"), Sum(text, "edgeplatform_telemetry_ingest_messages_total"));
    }

    public async ValueTask DisposeAsync()
    {
        await Process.StopAsync(TimeSpan.FromSeconds(20)).ConfigureAwait(false);
        if (Mosquitto is { } mosquitto)
        {
            mosquitto.Kill();
            await mosquitto.WaitForExitAsync().ConfigureAwait(false);
            mosquitto.Dispose();
        }

        Http.Dispose();
        Api.Dispose();
    }

    private static double Sum(string metrics, string name) =>
        metrics.Split('\n')
            .Where(line => line.StartsWith(name, StringComparison.Ordinal) && (line.Length == name.Length || line[name.Length] is ' ' or '{'))
            .Sum(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));

    /// <summary>
    /// mosquitto with the configuration the control plane wrote. As root mosquitto would switch to
    /// its own user, which cannot read the server key there.
    /// </summary>
    private static Process StartMosquitto(string directory, string logPath)
    {
        var binary = Environment.GetEnvironmentVariable("EDGEPLATFORM_TEST_MOSQUITTO") is { Length: > 0 } configured ? configured : "/usr/sbin/mosquitto";
        var config = Path.Combine(directory, "bench.conf");
        File.WriteAllText(config, (Environment.UserName == "root" ? "user root\n" : string.Empty) + File.ReadAllText(Path.Combine(directory, "mosquitto.conf")));
        var info = new ProcessStartInfo(binary) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(config);
        var process = System.Diagnostics.Process.Start(info) ?? throw new InvalidOperationException($"could not start {binary}");
        var log = TextWriter.Synchronized(new StreamWriter(logPath, append: true) { AutoFlush = true });
        process.OutputDataReceived += (_, e) => log.WriteLine(e.Data);
        process.ErrorDataReceived += (_, e) => log.WriteLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}
