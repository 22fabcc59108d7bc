using System.Globalization;

namespace EdgePlatform.Benchmarks.ScaleOut;

/// <summary>What one run does; every value has a default so a bare run is the documented one.</summary>
internal sealed record BenchmarkSettings(
    IReadOnlyList<int> Replicas,
    int IngestDevices,
    int MessagesPerDevice,
    int ReportsPerMessage,
    int FleetDevices,
    int BakeSeconds,
    int Trees = 100)
{
    /// <summary>Seconds, not minutes: both phases through the same code with tiny sizes, so the suite can tell the benchmark still runs and counts exactly.</summary>
    public static readonly BenchmarkSettings Smoke = new([1, 2], IngestDevices: 10, MessagesPerDevice: 5, ReportsPerMessage: 10, FleetDevices: 20, BakeSeconds: 1, Trees: 10);

    public long Reports => (long)IngestDevices * MessagesPerDevice * ReportsPerMessage;

    public static BenchmarkSettings Parse(string[] args)
    {
        var settings = new BenchmarkSettings([1, 2], IngestDevices: 200, MessagesPerDevice: 100, ReportsPerMessage: 10, FleetDevices: 10_000, BakeSeconds: 5);
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--smoke")
            {
                settings = Smoke;
                continue;
            }

            if (i + 1 >= args.Length)
            {
                throw new ArgumentException($"option '{args[i]}' needs a value");
            }

            var value = args[++i];
            settings = args[i - 1] switch
            {
                "--replicas" => settings with { Replicas = [.. value.Split(',').Select(v => Positive("--replicas", v))] },
                "--devices" => settings with { IngestDevices = Positive(args[i - 1], value) },
                "--messages" => settings with { MessagesPerDevice = Positive(args[i - 1], value) },
                "--reports-per-message" => settings with { ReportsPerMessage = Positive(args[i - 1], value) },
                "--fleet" => settings with { FleetDevices = int.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture) },
                "--bake" => settings with { BakeSeconds = Positive(args[i - 1], value) },
                _ => throw new ArgumentException($"unknown option '{args[i - 1]}'; known: --replicas 1,2, --devices, --messages, --reports-per-message, --fleet (0 skips the rollout), --bake, --smoke"),
            };
        }

        return settings;
    }

    private static int Positive(string option, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"{option} must be a positive whole number, not '{value}'");
}
