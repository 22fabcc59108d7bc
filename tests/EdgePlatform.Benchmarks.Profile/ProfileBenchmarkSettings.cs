using System.Globalization;

namespace EdgePlatform.Benchmarks.Profile;

/// <summary>What one run does; a bare run is the documented one. <see cref="File"/> reuses an existing CSV instead of generating one.</summary>
internal sealed record ProfileBenchmarkSettings(int Rows, bool Pandas, bool RequirePandas, string? File)
{
    /// <summary>Seconds of run through the same phases; pandas only when the machine has it.</summary>
    public static readonly ProfileBenchmarkSettings Smoke = new(20_000, Pandas: true, RequirePandas: false, File: null);

    public static ProfileBenchmarkSettings Parse(string[] args)
    {
        var settings = new ProfileBenchmarkSettings(5_000_000, Pandas: true, RequirePandas: true, File: null);
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--smoke":
                    settings = Smoke with { File = settings.File };
                    continue;
                case "--no-pandas":
                    settings = settings with { Pandas = false, RequirePandas = false };
                    continue;
                default:
                    break;
            }

            if (i + 1 >= args.Length)
            {
                throw new ArgumentException($"option '{args[i]}' needs a value");
            }

            var value = args[++i];
            settings = args[i - 1] switch
            {
                "--rows" => settings with { Rows = Positive(args[i - 1], value) },
                "--file" => settings with { File = value },
                _ => throw new ArgumentException($"unknown option '{args[i - 1]}'; known: --rows, --file, --no-pandas, --smoke"),
            };
        }

        return settings;
    }

    private static int Positive(string option, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"{option} must be a positive whole number, not '{value}'");
}
