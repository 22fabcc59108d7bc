using System.Globalization;

namespace EdgePlatform.Benchmarks.RolloutEngine;

/// <summary>What one run does; a bare run is the documented one.</summary>
internal sealed record RolloutBenchmarkSettings(int Devices, int Ticks)
{
    /// <summary>
    /// Seconds of run through the same phases, so the suite can tell the benchmark still starts.
    /// More than 42 devices: the phase of one failing device names bench-00042.
    /// </summary>
    public static readonly RolloutBenchmarkSettings Smoke = new(100, 2);

    public static RolloutBenchmarkSettings Parse(string[] args)
    {
        var settings = new RolloutBenchmarkSettings(10_000, 10);
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
                "--devices" => settings with { Devices = Positive(args[i - 1], value) },
                "--ticks" => settings with { Ticks = Positive(args[i - 1], value) },
                _ => throw new ArgumentException($"unknown option '{args[i - 1]}'; known: --devices, --ticks, --smoke"),
            };
        }

        return settings;
    }

    private static int Positive(string option, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"{option} must be a positive whole number, not '{value}'");
}
