using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgePlatform.FleetSim;

/// <summary>
/// The simulator's command line, which <c>edgectl sim</c> starts as its own process and passes
/// its options to: reads the options, shows progress, and prints the summary (as JSON with
/// <c>-o json</c>, progress then going to stderr).
/// </summary>
public static class SimulatorCommand
{
    public static RootCommand Create()
    {
        var server = new Option<string>("--server") { Description = "The control plane's URL, where devices enroll and attest" };
        var output = new Option<string>("--output", "-o") { Description = "Output format: table (default) or json", DefaultValueFactory = _ => "table" }.AcceptOnlyFromAmong("table", "json");
        var devices = new Option<int>("--devices") { Description = "Simulated devices, late joiners included (default 100)", DefaultValueFactory = _ => 100 };
        var keyFile = new Option<string>("--enrollment-key-file") { Description = "File holding a group enrollment key (the server's enrollment.key); each device presents the key derived for its id" };
        var key = new Option<string>("--enrollment-key") { Description = "A group enrollment key" };
        var prefix = new Option<string>("--id-prefix") { Description = "Device ids are PREFIX-00001 and up (default sim)", DefaultValueFactory = _ => "sim" };
        var tags = new Option<string[]>("--tag") { Description = "Tag key=value every device enrolls with (repeatable)", AllowMultipleArgumentsPerToken = true };
        var channel = new Option<string>("--channel") { Description = "Release channel (default production)", DefaultValueFactory = _ => "production" };
        var eventsPerSecond = new Option<double>("--events-per-second") { Description = "Events each device scores per second while a model is active (default 10)", DefaultValueFactory = _ => 10 };
        var latency = new Option<double>("--latency-ms") { Description = "Median scoring latency in ms (default 2); p95 is 1.6x, p99 2.2x", DefaultValueFactory = _ => 2 };
        var errorRate = new Option<double>("--error-rate") { Description = "Share of events that fail (default 0)" };
        var versionErrors = new Option<string[]>("--version-error-rate") { Description = "NAME:VERSION=RATE: that version fails this share of events (repeatable)", AllowMultipleArgumentsPerToken = true };
        var versionLatency = new Option<string[]>("--version-latency-ms") { Description = "NAME:VERSION=MS: that version's median latency (repeatable)", AllowMultipleArgumentsPerToken = true };
        var accuracy = new Option<string[]>("--accuracy") { Description = "NAME:VERSION=ACCURACY: share of that version's labelled predictions that are right, in quality reports (repeatable)", AllowMultipleArgumentsPerToken = true };
        var defaultAccuracy = new Option<double>("--default-accuracy") { Description = "Accuracy of versions without --accuracy (default 0.9)", DefaultValueFactory = _ => 0.9 };
        var labelledShare = new Option<double>("--labelled-share") { Description = "Share of scored events whose label comes back as feedback (default 0.1)", DefaultValueFactory = _ => 0.1 };
        var accuracySpread = new Option<double>("--accuracy-spread") { Description = "Each device's accuracy lies up to this far from its version's, either way (default 0.01)", DefaultValueFactory = _ => 0.01 };
        var failWarmUp = new Option<string[]>("--fail-warmup") { Description = "NAME:VERSION that fails warm-up on every device, which keeps its previous version and reports why (repeatable)", AllowMultipleArgumentsPerToken = true };
        var interval = new Option<int>("--telemetry-interval") { Description = "Seconds between health reports until a desired state sets the interval (default 10)", DefaultValueFactory = _ => 10 };
        var bandwidth = new Option<string>("--bandwidth") { Description = "Download speed of each device, e.g. 512KiB, 2MB, 10MiB (per second; default unlimited)" };
        var downloads = new Option<int>("--download-concurrency") { Description = "Packages downloading at once over the fleet (default 32)", DefaultValueFactory = _ => 32 };
        var starts = new Option<int>("--start-concurrency") { Description = "Devices enrolling, attesting or connecting at once (default 32)", DefaultValueFactory = _ => 32 };
        var warmUp = new Option<double>("--warmup-seconds") { Description = "Time to load and warm a verified version before activating it (default 0.2)", DefaultValueFactory = _ => 0.2 };
        var offlineShare = new Option<double>("--offline-share") { Description = "Share of devices (0-1) that drop off the broker (default 0)" };
        var offlineAfter = new Option<double>("--offline-after") { Description = "Seconds after start-up when they drop off (default 30)", DefaultValueFactory = _ => 30 };
        var offlineFor = new Option<double>("--offline-for") { Description = "Seconds they stay away (default 60)", DefaultValueFactory = _ => 60 };
        var lateShare = new Option<double>("--late-share") { Description = "Share of devices (0-1) that enroll late (default 0)" };
        var lateAfter = new Option<double>("--late-after") { Description = "Seconds after start-up when they join (default 60)", DefaultValueFactory = _ => 60 };
        var seed = new Option<int>("--seed") { Description = "Seeds which devices go offline or join late, and telemetry jitter (default 1)", DefaultValueFactory = _ => 1 };
        var duration = new Option<double?>("--duration") { Description = "Stop after this many seconds and print the summary (default: run until Ctrl-C)" };
        var printMeasurement = new Option<bool>("--print-measurement") { Description = "Print the agent-build measurement simulated devices attest with, and exit" };
        var sim = new RootCommand("Simulate a fleet of devices, each the agent's own core, against a control plane (enroll, attest, mTLS, signed pulls, telemetry)")
        {
            server, output, devices, keyFile, key, prefix, tags, channel, eventsPerSecond, latency, errorRate, versionErrors, versionLatency, accuracy, defaultAccuracy, labelledShare, accuracySpread, failWarmUp, interval,
            bandwidth, downloads, starts, warmUp, offlineShare, offlineAfter, offlineFor, lateShare, lateAfter, seed, duration, printMeasurement,
        };
        sim.SetAction(async (parse, ct) =>
        {
            var json = string.Equals(parse.GetValue(output), "json", StringComparison.Ordinal);
            if (parse.GetValue(printMeasurement))
            {
                var measurement = FleetSimulator.MeasureBuild();
                Console.Out.WriteLine(json ? JsonSerializer.Serialize(new Dictionary<string, string> { ["measurement"] = measurement }, FleetSimJsonContext.Default.DictionaryStringString) : measurement);
                return 0;
            }

            var options = new SimulatorOptions
            {
                ControlPlane = Uri.TryCreate(parse.GetValue(server), UriKind.Absolute, out var controlPlane) ? controlPlane : null,
                Devices = parse.GetValue(devices),
                IdPrefix = parse.GetValue(prefix)!,
                Channel = parse.GetValue(channel)!,
                EventsPerSecond = parse.GetValue(eventsPerSecond),
                LatencyMs = parse.GetValue(latency),
                ErrorRate = parse.GetValue(errorRate),
                Accuracy = parse.GetValue(defaultAccuracy),
                LabelledShare = parse.GetValue(labelledShare),
                AccuracySpread = parse.GetValue(accuracySpread),
                TelemetryIntervalSeconds = parse.GetValue(interval),
                BandwidthBytesPerSecond = parse.GetValue(bandwidth) is { } text ? ParseBandwidth(text) : 0,
                DownloadConcurrency = parse.GetValue(downloads),
                StartConcurrency = parse.GetValue(starts),
                WarmUpSeconds = parse.GetValue(warmUp),
                OfflineShare = parse.GetValue(offlineShare),
                OfflineAfterSeconds = parse.GetValue(offlineAfter),
                OfflineForSeconds = parse.GetValue(offlineFor),
                LateShare = parse.GetValue(lateShare),
                LateAfterSeconds = parse.GetValue(lateAfter),
                Seed = parse.GetValue(seed),
            };
            foreach (var tag in parse.GetValue(tags) ?? [])
            {
                var (tagKey, tagValue) = Pair(tag, "--tag", "key=value");
                options.Tags[tagKey] = tagValue;
            }

            foreach (var entry in parse.GetValue(versionErrors) ?? [])
            {
                var (release, value) = Pair(entry, "--version-error-rate", "NAME:VERSION=RATE");
                options.Versions[release] = (options.Versions.GetValueOrDefault(release) ?? VersionBehaviour.Default) with { ErrorRate = Number(value, "--version-error-rate") };
            }

            foreach (var entry in parse.GetValue(versionLatency) ?? [])
            {
                var (release, value) = Pair(entry, "--version-latency-ms", "NAME:VERSION=MS");
                options.Versions[release] = (options.Versions.GetValueOrDefault(release) ?? VersionBehaviour.Default) with { LatencyMs = Number(value, "--version-latency-ms") };
            }

            foreach (var entry in parse.GetValue(accuracy) ?? [])
            {
                var (release, value) = Pair(entry, "--accuracy", "NAME:VERSION=ACCURACY");
                options.Versions[release] = (options.Versions.GetValueOrDefault(release) ?? VersionBehaviour.Default) with { Accuracy = Number(value, "--accuracy") };
            }

            foreach (var release in parse.GetValue(failWarmUp) ?? [])
            {
                options.Versions[release] = (options.Versions.GetValueOrDefault(release) ?? VersionBehaviour.Default) with { FailsWarmUp = true };
            }

            var keyText = parse.GetValue(key);
            if (keyText is null && parse.GetValue(keyFile) is { } file)
            {
                keyText = File.Exists(file)
                    ? (await File.ReadAllTextAsync(file, ct).ConfigureAwait(false)).Trim()
                    : throw new SimulatorException($"--enrollment-key-file '{file}' does not exist");
            }

            options.EnrollmentKey = keyText;
            var seconds = parse.GetValue(duration);
            if (seconds is <= 0 or > 30 * 86_400)
            {
                throw new SimulatorException(string.Create(CultureInfo.InvariantCulture, $"--duration must be between 0 and {30 * 86_400} seconds, not {seconds}"));
            }

            return await RunAsync(options, seconds is { } s ? TimeSpan.FromSeconds(s) : null, json, ct).ConfigureAwait(false);
        });
        return sim;
    }

    /// <summary>A rate such as 512KiB, 2MB, 10MiB or 1000 (bytes), per second.</summary>
    public static long ParseBandwidth(string text)
    {
        var trimmed = text.Trim();
        if (trimmed.EndsWith("/s", StringComparison.OrdinalIgnoreCase))
        {
            trimmed = trimmed[..^2];
        }

        var digits = trimmed.TakeWhile(c => char.IsAsciiDigit(c) || c == '.').Count();
        (string Unit, long Factor)[] units = [("", 1), ("B", 1), ("KB", 1000), ("KIB", 1024), ("MB", 1000_000), ("MIB", 1 << 20), ("GB", 1000_000_000), ("GIB", 1 << 30)];
        var unit = trimmed[digits..].Trim().ToUpperInvariant();
        if (digits == 0
            || !double.TryParse(trimmed[..digits], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount)
            || units.FirstOrDefault(u => u.Unit == unit) is not { Factor: > 0 } match)
        {
            throw new SimulatorException($"--bandwidth '{text}' is not a rate such as 512KiB, 2MB or 10MiB (per second)");
        }

        return (long)(amount * match.Factor);
    }

    private static (string Key, string Value) Pair(string text, string option, string form)
    {
        var equals = text.LastIndexOf('=');
        return equals > 0 && equals < text.Length - 1
            ? (text[..equals], text[(equals + 1)..])
            : throw new SimulatorException($"{option} '{text}' is not {form}");
    }

    private static double Number(string text, string option) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new SimulatorException($"{option}: '{text}' is not a number");

    private static async Task<int> RunAsync(SimulatorOptions options, TimeSpan? duration, bool json, CancellationToken ct)
    {
        // Progress is for people; with -o json stdout carries only the summary.
        var progress = json ? Console.Error : Console.Out;
        var clock = Stopwatch.StartNew();
        void Say(string line) => progress.WriteLine($"[{clock.Elapsed.TotalSeconds,6:0.0}s] {line}");

        var fleet = new FleetSimulator(options, TimeProvider.System, NullLogger.Instance);

        await using (fleet.ConfigureAwait(false))
        {
            var initial = fleet.Devices.Count(d => !d.Late);
            Say($"starting {initial} device(s) against {options.ControlPlane} (attesting as build {fleet.Measurement})"
                + (initial < options.Devices ? $"; {options.Devices - initial} join late" : string.Empty));
            using var ticker = new CancellationTokenSource();
            var reporter = ReportStartAsync(fleet, initial, Say, ticker.Token);
            try
            {
                await fleet.StartAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                Say("stopped while starting");
            }
            finally
            {
                await ticker.CancelAsync().ConfigureAwait(false);
                await reporter.ConfigureAwait(false);
            }

            if (!ct.IsCancellationRequested)
            {
                Say($"{fleet.Counters.Enrolled} device(s) enrolled, attested and connected; {Status(fleet)}");
                using var running = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var status = ReportRunningAsync(fleet, Say, running.Token);
                try
                {
                    await fleet.RunAsync(duration, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    Say("stopping");
                }
                finally
                {
                    await running.CancelAsync().ConfigureAwait(false);
                    await status.ConfigureAwait(false);
                }
            }

            var summary = fleet.Summarize();
            if (json)
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(summary, FleetSimJsonContext.Default.FleetSummary));
            }
            else
            {
                Console.Out.WriteLine(
                    string.Create(CultureInfo.InvariantCulture, $"sim: {summary.Started}/{summary.Devices} devices started, {summary.Connected} connected; ") +
                    $"active: {Active(summary)}; {summary.Installs} installs, {summary.Refused} refused, {summary.WarmUpFailures} warm-up failures; " +
                    string.Create(CultureInfo.InvariantCulture, $"{summary.Downloads} downloads, {summary.BytesDownloaded / 1048576.0:0.0} MiB, {summary.RepeatedDownloads} repeated; ") +
                    string.Create(CultureInfo.InvariantCulture, $"{summary.TelemetryReports} telemetry reports sent, {summary.TelemetryPending} waiting; in {summary.ElapsedSeconds:0.0} s"));
                foreach (var (error, count) in summary.Errors)
                {
                    Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {count} device(s): {error}"));
                }
            }
        }

        return 0;
    }

    private static async Task ReportStartAsync(FleetSimulator fleet, int initial, Action<string> say, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                var counters = fleet.Counters;
                say($"enrolled {counters.Enrolled}/{initial}, attested {counters.Attestations}, connected {counters.Connected}");
            }
        }
        catch (OperationCanceledException)
        {
            // Start-up finished.
        }
    }

    private static async Task ReportRunningAsync(FleetSimulator fleet, Action<string> say, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(10));
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                say(Status(fleet));
            }
        }
        catch (OperationCanceledException)
        {
            // The run is over.
        }
    }

    private static string Status(FleetSimulator fleet)
    {
        var counters = fleet.Counters;
        var summary = fleet.Summarize();
        return string.Create(CultureInfo.InvariantCulture, $"connected {counters.Connected}/{summary.Started}; active: {Active(summary)}; installing {counters.Installing}; ") +
            string.Create(CultureInfo.InvariantCulture, $"{summary.WithError} with an error; {summary.BytesDownloaded / 1048576.0:0.0} MiB downloaded; {summary.TelemetryReports} reports sent");
    }

    private static string Active(FleetSummary summary) =>
        string.Join(", ", summary.Active.Select(a => $"{a.Key} on {a.Value}").Append(summary.WithoutModel > 0 ? $"none on {summary.WithoutModel}" : null).OfType<string>());

}
