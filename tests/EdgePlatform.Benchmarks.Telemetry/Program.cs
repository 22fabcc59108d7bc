using EdgePlatform.Benchmarks.Telemetry;

// Usage: dotnet run -c Release -- [--devices 1000] [--seconds 20] [--rate 6] [--idle 10000]
return await IngestBenchmark.RunAsync(BenchmarkSettings.Parse(args), CancellationToken.None).ConfigureAwait(false);
