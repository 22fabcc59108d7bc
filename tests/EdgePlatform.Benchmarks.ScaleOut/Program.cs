using EdgePlatform.Benchmarks.ScaleOut;

// Usage: dotnet run -c Release -- [--replicas 1,2] [--devices 200] [--messages 100] [--reports-per-message 10] [--fleet 10000] [--bake 5] [--smoke]
// Needs PostgreSQL, mosquitto and Azurite as tests/run.sh starts them (EDGEPLATFORM_TEST_SERVICES or the EDGEPLATFORM_TEST_* variables).
return await ScaleOutBenchmark.RunAsync(BenchmarkSettings.Parse(args), CancellationToken.None).ConfigureAwait(false);
