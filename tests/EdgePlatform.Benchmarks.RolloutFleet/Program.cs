using EdgePlatform.Benchmarks.RolloutFleet;

// Usage: dotnet run -c Release -- [--smoke] [--devices 1000,10000] [--trees 1700] [--leaves 64] [--bake 10] [--telemetry-interval 300] [--download-concurrency 32]
// --smoke: 100 devices and a tiny model, in seconds; exits 0 when every device got the version and
// the registry served exactly devices × package, non-zero otherwise. Options after it still apply.
using var deadline = args.Contains("--smoke") ? new CancellationTokenSource(TimeSpan.FromMinutes(5)) : new CancellationTokenSource();
return await RolloutBenchmark.RunAsync(BenchmarkSettings.Parse(args), deadline.Token).ConfigureAwait(false);
