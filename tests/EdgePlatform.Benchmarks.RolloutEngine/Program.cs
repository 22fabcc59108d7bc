using EdgePlatform.Benchmarks.RolloutEngine;

// dotnet run -c Release --project tests/EdgePlatform.Benchmarks.RolloutEngine -- [--devices 10000] [--ticks 10] [--smoke]
return await RolloutBenchmark.RunAsync(RolloutBenchmarkSettings.Parse(args), CancellationToken.None).ConfigureAwait(false);
