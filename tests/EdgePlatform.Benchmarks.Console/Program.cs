using EdgePlatform.Benchmarks.Console;

// Usage: dotnet run -c Release -- [--smoke] [--devices 10000] [--renders 5]
// --smoke: 200 devices, in a minute or two; exits 0 when every page of the fleet was served and
// the browser rendered the first one, non-zero otherwise. The 1 s goal is reported, not enforced.
using var deadline = args.Contains("--smoke") ? new CancellationTokenSource(TimeSpan.FromMinutes(5)) : new CancellationTokenSource();
return await FleetPageBenchmark.RunAsync(BenchmarkSettings.Parse(args), deadline.Token).ConfigureAwait(false);
