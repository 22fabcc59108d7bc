using EdgePlatform.Benchmarks.Rollouts;

// dotnet run -c Release --project tests/EdgePlatform.Benchmarks.Rollouts -- [--devices 10000] [--ticks 10]
return await RolloutBenchmark.RunAsync(RolloutBenchmarkSettings.Parse(args), CancellationToken.None).ConfigureAwait(false);
