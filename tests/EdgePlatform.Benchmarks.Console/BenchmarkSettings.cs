using System.Globalization;

namespace EdgePlatform.Benchmarks.Console;

internal sealed record BenchmarkSettings(bool Smoke, int Devices, int Renders)
{
    public static BenchmarkSettings Parse(string[] args)
    {
        var smoke = args.Contains("--smoke");
        var devices = smoke ? 200 : 10_000;
        var renders = smoke ? 2 : 5;
        for (var i = 0; i < args.Length - 1; i++)
        {
            switch (args[i])
            {
                case "--devices":
                    devices = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--renders":
                    renders = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
            }
        }

        return new BenchmarkSettings(smoke, devices, renders);
    }
}
