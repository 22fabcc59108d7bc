using EdgePlatform.Benchmarks.RolloutFleet;

// Usage: dotnet run -c Release -- [--devices 1000,10000] [--trees 1700] [--leaves 64] [--bake 10] [--telemetry-interval 300] [--download-concurrency 32]
return await RolloutBenchmark.RunAsync(BenchmarkSettings.Parse(args), CancellationToken.None).ConfigureAwait(false);
