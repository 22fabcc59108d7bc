using System.Globalization;

namespace EdgePlatform.Benchmarks.RolloutFleet;

/// <summary>What one run does; every value has a default so a bare run is the documented one.</summary>
internal sealed record BenchmarkSettings(IReadOnlyList<int> Fleets, int Trees, int Leaves, int BakeSeconds, int TelemetryIntervalSeconds, int DownloadConcurrency)
{
    public static BenchmarkSettings Parse(string[] args)
    {
        // 1,700 trees of 64 leaves make a model.onnx of about 5 MB from the built-in dataset. Health
        // reports every 5 minutes: telemetry ingest has its own benchmark, and 10,000 devices
        // reporting every 30 s would compete with enrollment for the store's one writer.
        var settings = new BenchmarkSettings([1000, 10_000], 1700, 64, 10, 300, 32);
        for (var i = 0; i < args.Length; i += 2)
        {
            if (args[i] == "--smoke")
            {
                // Seconds, not minutes: a small model to a small fleet, through the same code path.
                settings = settings with { Fleets = [100], Trees = 20, Leaves = 8, BakeSeconds = 1, TelemetryIntervalSeconds = 5 };
                i--;
                continue;
            }

            if (i + 1 >= args.Length)
            {
                throw new ArgumentException($"option '{args[i]}' needs a value");
            }

            var value = args[i + 1];
            settings = args[i] switch
            {
                "--devices" => settings with { Fleets = [.. value.Split(',').Select(v => Positive("--devices", v))] },
                "--trees" => settings with { Trees = Positive(args[i], value) },
                "--leaves" => settings with { Leaves = Positive(args[i], value) },
                "--bake" => settings with { BakeSeconds = Positive(args[i], value) },
                "--telemetry-interval" => settings with { TelemetryIntervalSeconds = Positive(args[i], value) },
                "--download-concurrency" => settings with { DownloadConcurrency = Positive(args[i], value) },
                _ => throw new ArgumentException($"unknown option '{args[i]}'; known: --smoke, --devices 1000,10000, --trees, --leaves, --bake, --telemetry-interval, --download-concurrency"),
            };
        }

        return settings;
    }

    private static int Positive(string option, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"{option} must be a positive whole number, not '{value}'");
}
