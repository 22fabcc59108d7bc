using System.Globalization;

namespace EdgePlatform.Benchmarks.RolloutEngine;

/// <summary>What one run does; a bare run is the documented one.</summary>
internal sealed record RolloutBenchmarkSettings(int Devices, int Ticks)
{
    public static RolloutBenchmarkSettings Parse(string[] args)
    {
        var settings = new RolloutBenchmarkSettings(10_000, 10);
        for (var i = 0; i < args.Length; i += 2)
        {
            if (i + 1 >= args.Length)
            {
                throw new ArgumentException($"option '{args[i]}' needs a value");
            }

            settings = args[i] switch
            {
                "--devices" => settings with { Devices = Positive(args[i], args[i + 1]) },
                "--ticks" => settings with { Ticks = Positive(args[i], args[i + 1]) },
                _ => throw new ArgumentException($"unknown option '{args[i]}'; known: --devices, --ticks"),
            };
        }

        return settings;
    }

    private static int Positive(string option, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"{option} must be a positive whole number, not '{value}'");
}
