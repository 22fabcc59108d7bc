using EdgePlatform.Benchmarks.Telemetry;

// Usage: dotnet run -c Release -- [--devices 1000] [--seconds 20] [--rate 8] [--idle 10000] [--no-mosquitto]
return await IngestBenchmark.RunAsync(BenchmarkSettings.Parse(args), CancellationToken.None).ConfigureAwait(false);
