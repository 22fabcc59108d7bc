using System.Diagnostics;
using System.Text.Json;
using EdgePlatform.Cli;
using EdgePlatform.Cli.Processes;
using EdgePlatform.Contracts;
using EdgePlatform.FleetSim;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Playwright;

namespace EdgePlatform.Benchmarks.Console;

/// <summary>
/// Starts the real control plane as its own process and a fleet of simulated devices (enrolled,
/// attested, connected, reporting), signs in to the console in headless chromium, then measures:
/// the time to fetch every page of the fleet in turn (unfiltered, then through a selector every
/// device matches), the worst page (a selector no device matches, which reads the whole fleet to say
/// so), each against the named baseline of the API's full device list in the same run; and the
/// browser's time to first contentful paint of the fleet page. The goal is under 1 s for both.
/// </summary>
internal static class FleetPageBenchmark
{
    private const double GoalMilliseconds = 1000;

    public static async Task<int> RunAsync(BenchmarkSettings settings, CancellationToken cancellationToken)
    {
        var root = Directory.CreateTempSubdirectory("edgeplatform-console-bench-").FullName;
        var processes = new ProcessGroup();
        try
        {
            var (endpoints, token) = await StartServerAsync(processes, root, cancellationToken).ConfigureAwait(false);
            using var api = new ApiClient(new Uri(endpoints.HttpUrl), token);
            var options = new SimulatorOptions
            {
                ControlPlane = new Uri(endpoints.HttpUrl),
                EnrollmentKey = (await File.ReadAllTextAsync(endpoints.EnrollmentKeyFile, cancellationToken).ConfigureAwait(false)).Trim(),
                Devices = settings.Devices,
                IdPrefix = "cb",
                StartConcurrency = 32,
                TelemetryIntervalSeconds = 300,
                LateAfterSeconds = null,
            };
            options.Tags["fleet"] = "console-bench";
            var clock = Stopwatch.StartNew();
            var fleet = new FleetSimulator(options, TimeProvider.System, NullLogger.Instance);
            await using (fleet.ConfigureAwait(false))
            {
                await fleet.StartAsync(cancellationToken).ConfigureAwait(false);
                Write($"{settings.Devices} simulated devices enrolled, attested and connected in {clock.Elapsed.TotalSeconds:0.0} s; {Environment.ProcessorCount} CPU cores, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");

                // The baseline: the API's one read of every device, as edgectl devices list makes it.
                var baseline = new List<double>();
                for (var i = 0; i < 3; i++)
                {
                    clock.Restart();
                    var all = await api.ListDevicesAsync(cancellationToken).ConfigureAwait(false);
                    baseline.Add(clock.Elapsed.TotalMilliseconds);
                    if (all.Count < settings.Devices)
                    {
                        throw new InvalidOperationException($"the API lists {all.Count} devices, not {settings.Devices}");
                    }
                }

                return await MeasureConsoleAsync(endpoints.HttpUrl, token, settings, baseline.Order().ElementAt(1), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            await processes.DisposeAsync().ConfigureAwait(false);
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
                // Logs of a process still exiting; the folder is under the system temp directory.
            }
        }
    }

    private static async Task<int> MeasureConsoleAsync(string baseUrl, string token, BenchmarkSettings settings, double baselineMs, CancellationToken cancellationToken)
    {
        var chromium = Environment.GetEnvironmentVariable("EDGEPLATFORM_TEST_CHROMIUM") is { Length: > 0 } configured ? configured : "/usr/bin/chromium";
        using var playwright = await Playwright.CreateAsync().ConfigureAwait(false);
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        }).ConfigureAwait(false);
        var context = await browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = baseUrl, ViewportSize = new ViewportSize { Width = 1366, Height = 768 } }).ConfigureAwait(false);
        var page = await context.NewPageAsync().ConfigureAwait(false);
        await page.GotoAsync("/console/login").ConfigureAwait(false);
        await page.GetByLabel("API token").FillAsync(token).ConfigureAwait(false);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync().ConfigureAwait(false);
        await page.WaitForURLAsync("**/console/fleet").ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();

        var whole = await WalkAsync(page, string.Empty).ConfigureAwait(false);
        var filtered = await WalkAsync(page, "fleet=console-bench").ConfigureAwait(false);
        var nothing = await WalkAsync(page, "fleet=elsewhere").ConfigureAwait(false);

        var renders = new List<(double Fcp, double Response)>();
        for (var i = 0; i < settings.Renders; i++)
        {
            await page.GotoAsync("/console/fleet", new PageGotoOptions { WaitUntil = WaitUntilState.Load }).ConfigureAwait(false);
            var timing = await page.EvaluateAsync<double[]>(
                """
                () => new Promise(resolve => {
                  const nav = performance.getEntriesByType("navigation")[0];
                  const read = () => {
                    const paint = performance.getEntriesByName("first-contentful-paint")[0];
                    if (paint) { resolve([paint.startTime, nav.responseEnd - nav.requestStart]); } else { setTimeout(read, 20); }
                  };
                  read();
                })
                """).ConfigureAwait(false);
            renders.Add((timing[0], timing[1]));
        }

        var rows = await page.Locator("#fleet-table tbody tr").CountAsync().ConfigureAwait(false);
        var complete = whole.Devices == settings.Devices && filtered.Devices == settings.Devices && nothing.Devices == 0 && rows > 0;
        var fcp = Median(renders.Select(r => r.Fcp));
        Write("");
        Write($"| devices | fleet pages | page fetch median | p95 | max | server time per page (median) | API full list (baseline) | page / baseline |");
        Write($"|---:|---:|---:|---:|---:|---:|---:|---:|");
        Write($"| {settings.Devices} | {whole.Pages} | {Median(whole.FetchMs):0.0} ms | {Percentile(whole.FetchMs, 0.95):0.0} ms | {whole.FetchMs.Max():0.0} ms | {Median(whole.ServerMs):0.0} ms | {baselineMs:0.0} ms | {Median(whole.FetchMs) / baselineMs:0.000} |");
        Write($"| selector every device matches ({filtered.Devices}) | {filtered.Pages} | {Median(filtered.FetchMs):0.0} ms | {Percentile(filtered.FetchMs, 0.95):0.0} ms | {filtered.FetchMs.Max():0.0} ms | {Median(filtered.ServerMs):0.0} ms | {baselineMs:0.0} ms | {Median(filtered.FetchMs) / baselineMs:0.000} |");
        Write($"| selector no device matches (reads all {settings.Devices}) | {nothing.Pages} | {Median(nothing.FetchMs):0.0} ms | – | {nothing.FetchMs.Max():0.0} ms | {Median(nothing.ServerMs):0.0} ms | {baselineMs:0.0} ms | {Median(nothing.FetchMs) / baselineMs:0.000} |");
        Write("");
        Write($"first page in the browser, {settings.Renders} loads: first contentful paint median {fcp:0} ms (max {renders.Max(r => r.Fcp):0} ms), document request to response end median {Median(renders.Select(r => r.Response)):0} ms");
        var met = Percentile(whole.FetchMs, 0.95) < GoalMilliseconds && fcp < GoalMilliseconds;
        Write($"goal (page served and first render under {GoalMilliseconds:0} ms): {(met ? "met" : "missed")}");
        Write(complete ? $"fleet pages served: every one of {settings.Devices} devices listed once" : $"fleet pages incomplete: {whole.Devices} of {settings.Devices} devices listed");
        return complete ? 0 : 1;
    }

    private sealed record Walk(int Pages, int Devices, List<double> FetchMs, List<double> ServerMs);

    /// <summary>Fetches every page of the fleet in turn from inside the signed-in page, timing each fetch and reading the server's own time from it.</summary>
    private static async Task<Walk> WalkAsync(IPage page, string selector)
    {
        var result = await page.EvaluateAsync<JsonElement>(
            """
            async (selector) => {
              const fetchMs = [], serverMs = [];
              let url = "/console/fleet?selector=" + encodeURIComponent(selector), devices = 0, pages = 0;
              while (url) {
                const started = performance.now();
                const response = await fetch(url);
                const html = await response.text();
                fetchMs.push(performance.now() - started);
                const doc = new DOMParser().parseFromString(html, "text/html");
                serverMs.push(Number(doc.getElementById("fleet-server-ms").textContent));
                devices += doc.querySelectorAll("#fleet-table tbody tr").length;
                pages++;
                const next = doc.getElementById("next-page");
                url = next ? next.getAttribute("href") : null;
              }
              return { pages, devices, fetchMs, serverMs };
            }
            """,
            selector).ConfigureAwait(false);
        return new Walk(
            result.GetProperty("pages").GetInt32(),
            result.GetProperty("devices").GetInt32(),
            [.. result.GetProperty("fetchMs").EnumerateArray().Select(e => e.GetDouble())],
            [.. result.GetProperty("serverMs").EnumerateArray().Select(e => e.GetDouble())]);
    }

    private static double Median(IEnumerable<double> values) => Percentile([.. values], 0.5);

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN : sorted[(int)Math.Min(sorted.Count - 1, Math.Floor(p * sorted.Count))];
    }

    private static async Task<(ServerEndpoints Endpoints, string Token)> StartServerAsync(ProcessGroup processes, string root, CancellationToken cancellationToken)
    {
        var data = Path.Combine(root, "server");
        var tokenFile = Path.Combine(root, "admin.token");
        var server = processes.Start(
            "server",
            HostProcess.ServerAssembly,
            [
                $"--Server:DataDirectory={data}", "--Server:HttpPort=0", "--Server:MqttPort=0", $"--Server:InitialAdminTokenFile={tokenFile}",
                "--Logging:LogLevel:Default=Warning", "--Enrollment:TelemetryIntervalSeconds=300",
                "--RateLimits:Enabled=false",
                $"--Attestation:AllowedAgentBuilds:*:0={FleetSimulator.MeasureBuild()}",
            ],
            Path.Combine(root, "server.log"));
        var endpointsFile = Path.Combine(data, ServerEndpoints.FileName);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (!File.Exists(endpointsFile) || !File.Exists(tokenFile))
        {
            if (server.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"the server did not start:\n{server.LogTail(40)}");
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }

        var endpoints = JsonSerializer.Deserialize(await File.ReadAllBytesAsync(endpointsFile, cancellationToken).ConfigureAwait(false), ContractsJsonContext.Default.ServerEndpoints)!;
        return (endpoints, (await File.ReadAllTextAsync(tokenFile, cancellationToken).ConfigureAwait(false)).Trim());
    }

    private static void Write(FormattableString line) => System.Console.WriteLine(FormattableString.Invariant(line));

    private static void Write(string line) => System.Console.WriteLine(line);
}
