using System.Diagnostics;
using System.Globalization;
using EdgePlatform.Contracts;
using EdgePlatform.Training.Sweeps;

namespace EdgePlatform.Benchmarks.SweepQuality;

/// <summary>
/// Our side: the dataset read as a sweep reads a registered ARFF snapshot, then the same local sweep
/// <c>edgectl train --local</c> runs, <see cref="SweepBenchmarkSettings.Parallel"/> trials at a time
/// until the wall budget is spent. Trials still running at the deadline are abandoned: the score is
/// the best the sweep had validated within the budget. The wall time includes the winner's refit.
/// </summary>
internal static class OurSweep
{
    public static async Task<SideResult> RunAsync(WekaDataset dataset, SweepBenchmarkSettings settings, CancellationToken cancellationToken)
    {
        var spec = new SweepSpec
        {
            Dataset = dataset.Name,
            Label = dataset.Info.Label,
            Task = dataset.Task,
            Metric = dataset.Metric,
            Folds = settings.Folds,
            BudgetSeconds = settings.BudgetSeconds,
        };

        var watch = Stopwatch.StartNew();
        var data = SweepData.Load(new MemoryStream(dataset.Content, writable: false), dataset.Info, spec, cancellationToken);
        var lastReport = TimeSpan.Zero;
        var progress = new SynchronousProgress<LocalSweepProgress>(p =>
        {
            if (p.Finished?.Error is { } error)
            {
                Console.Error.WriteLine($"  {dataset.Name}: trial {p.Finished.Trial.Number} ({p.Finished.Trial.Trainer}) failed: {error}");
            }

            if (p.Elapsed - lastReport >= TimeSpan.FromSeconds(15))
            {
                lastReport = p.Elapsed;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {dataset.Name}: {p.Elapsed.TotalSeconds:0} s, {p.Recorded} trials, best {p.BestScore?.ToString("0.0000", CultureInfo.InvariantCulture) ?? "-"}"));
            }
        });
        var result = await LocalSweep.RunAsync(spec, data, new LocalSweepOptions { Parallelism = settings.Parallel, SweepId = $"benchmark-{dataset.Name}" }, progress, cancellationToken).ConfigureAwait(false);
        var wall = watch.Elapsed.TotalSeconds;

        var summary = result.Summary;
        var detail = $"{summary.BestTrainer} {string.Join(' ', summary.BestParameters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"))}";
        return new SideResult(summary.BestScore, result.Trials.Count, result.Trials.Count(t => t.Outcome is null), wall, summary.BestTrainer, detail);
    }

    /// <summary>Reports on the reporting thread, in order, unlike <see cref="Progress{T}"/>, which posts to the thread pool.</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}

/// <summary>One side's answer on one dataset: its best validated score, how many trials (fits for the peer) it took, and the wall time it used.</summary>
internal sealed record SideResult(double Score, int Trials, int Failed, double WallSeconds, string Best, string Detail);
