using EdgePlatform.Benchmarks.Telemetry;

// Usage: dotnet run -c Release -- [--devices 1000] [--seconds 20] [--rate 8] [--idle 10000] [--no-mosquitto] [--smoke]
//        dotnet run -c Release -- metrics-cost [--seconds 5 | --smoke]
if (args is ["metrics-cost", ..])
{
    return MetricsCost.Run(args switch
    {
        [_] => TimeSpan.FromSeconds(5),
        [_, "--seconds", var seconds] => TimeSpan.FromSeconds(int.Parse(seconds, System.Globalization.CultureInfo.InvariantCulture)),
        [_, "--smoke"] => TimeSpan.FromSeconds(0.25),
        _ => throw new ArgumentException("metrics-cost takes --seconds N or --smoke"),
    });
}

return await IngestBenchmark.RunAsync(BenchmarkSettings.Parse(args), CancellationToken.None).ConfigureAwait(false);
