using System.Globalization;

namespace EdgePlatform.Benchmarks.Telemetry;

/// <summary>
/// What one benchmark run does; every value has a default so a bare run is the documented one.
/// <see cref="IdleSettleSeconds"/> is how long the idle connections stay open before the server's memory is read.
/// </summary>
internal sealed record BenchmarkSettings(int Devices, int Seconds, double ReportsPerDeviceSecond, int IdleConnections, bool Mosquitto, int IdleSettleSeconds = 5)
{
    /// <summary>
    /// Seconds of run through the same phases, on the embedded broker only (mosquitto is a service
    /// the machine may not have), so the suite can tell the benchmark still starts and counts exactly.
    /// </summary>
    public static readonly BenchmarkSettings Smoke = new(Devices: 10, Seconds: 2, ReportsPerDeviceSecond: 8, IdleConnections: 20, Mosquitto: false, IdleSettleSeconds: 1);

    public static BenchmarkSettings Parse(string[] args)
    {
        var settings = new BenchmarkSettings(1000, 20, 8, 10_000, Mosquitto: true);
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--no-mosquitto")
            {
                settings = settings with { Mosquitto = false };
                continue;
            }

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
                "--seconds" => settings with { Seconds = Positive(args[i - 1], value) },
                "--rate" => settings with { ReportsPerDeviceSecond = double.Parse(value, CultureInfo.InvariantCulture) },
                "--idle" => settings with { IdleConnections = int.Parse(value, CultureInfo.InvariantCulture) },
                _ => throw new ArgumentException($"unknown option '{args[i - 1]}'; known: --devices, --seconds, --rate, --idle, --no-mosquitto, --smoke"),
            };
        }

        return settings;
    }

    private static int Positive(string option, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"{option} must be a positive whole number, not '{value}'");
}
