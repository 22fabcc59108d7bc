using EdgePlatform.Benchmarks.Telemetry;

// Usage: dotnet run -c Release -- [--devices 1000] [--seconds 20] [--rate 8] [--idle 10000] [--no-mosquitto]
//        dotnet run -c Release -- metrics-cost [--seconds 5]
if (args is ["metrics-cost", ..])
{
    return MetricsCost.Run(TimeSpan.FromSeconds(args is [_, "--seconds", var seconds] ? int.Parse(seconds, System.Globalization.CultureInfo.InvariantCulture) : 5));
}

return await IngestBenchmark.RunAsync(BenchmarkSettings.Parse(args), CancellationToken.None).ConfigureAwait(false);
