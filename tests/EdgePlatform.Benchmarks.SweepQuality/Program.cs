using EdgePlatform.Benchmarks.SweepQuality;

// Usage: dotnet run -c Release --project tests/EdgePlatform.Benchmarks.SweepQuality -- [--budget 120] [--datasets ionosphere,vote,...] [--folds 10] [--no-peer] [--smoke]
// Each dataset runs our sweep, then the scikit-learn peer, one after the other so that neither shares the CPU with the other.
SweepBenchmarkSettings settings;
try
{
    settings = SweepBenchmarkSettings.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};

return await SweepBenchmark.RunAsync(settings, cancellation.Token);
