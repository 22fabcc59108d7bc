using System.Diagnostics;
using System.Globalization;
using EdgePlatform.Contracts;
using EdgePlatform.Training.Sweeps;

namespace EdgePlatform.Benchmarks.Sweep;

/// <summary>
/// Our side: the dataset read as a sweep reads a registered ARFF snapshot, then the planner's
/// trials run <see cref="SweepBenchmarkSettings.Parallel"/> at a time in this process until the
/// wall budget is spent. Trials still running at the deadline are cancelled and their results,
/// if they come, not counted: the score is what the sweep had validated within the budget.
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
            Concurrency = settings.Parallel,
        };

        var watch = Stopwatch.StartNew();
        var data = SweepData.Load(new MemoryStream(dataset.Content, writable: false), dataset.Info, spec, cancellationToken);
        var problem = SweepProblem.Resolve(spec, data);
        var planner = new SweepPlanner(problem);
        var budget = TimeSpan.FromSeconds(settings.BudgetSeconds);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(budget - watch.Elapsed);

        var running = new Dictionary<Task<TrialOutcome>, TrialSpec>();
        var trials = 0;
        var failed = 0;
        var late = 0;
        var lastReport = TimeSpan.Zero;
        while (true)
        {
            while (running.Count < settings.Parallel && !deadline.IsCancellationRequested && !planner.IsComplete && planner.Next() is { } trial)
            {
                var token = deadline.Token;
                running.Add(Task.Run(() => TrialRunner.Run(problem, trial, data, token), CancellationToken.None), trial);
            }

            if (running.Count == 0)
            {
                break;
            }

            var done = await Task.WhenAny(running.Keys).ConfigureAwait(false);
            var finished = running[done];
            running.Remove(done);
            if (watch.Elapsed > budget || deadline.IsCancellationRequested)
            {
                late++;
                continue;
            }

            trials++;
            if (done.IsCompletedSuccessfully)
            {
                planner.Record(finished, done.Result);
            }
            else
            {
                failed++;
                planner.Record(finished, null);
                Console.Error.WriteLine($"  {dataset.Name}: trial {finished.Number} ({finished.Trainer}) failed: {done.Exception?.InnerException?.Message}");
            }

            if (watch.Elapsed - lastReport >= TimeSpan.FromSeconds(15))
            {
                lastReport = watch.Elapsed;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {dataset.Name}: {watch.Elapsed.TotalSeconds:0} s, {trials} trials, best {planner.Best?.Outcome.Score.ToString("0.0000", CultureInfo.InvariantCulture) ?? "-"}"));
            }
        }

        var wall = watch.Elapsed.TotalSeconds;
        cancellationToken.ThrowIfCancellationRequested();

        var best = planner.Best;
        var detail = best is { } b
            ? $"{b.Trial.Trainer} {string.Join(' ', b.Trial.Parameters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key}={p.Value:G4}")))}"
            : "no trial finished inside the budget";
        return new SideResult(best?.Outcome.Score ?? double.NaN, trials, failed, late, wall, best?.Trial.Trainer ?? "-", detail);
    }
}

/// <summary>One side's answer on one dataset: its best validated score, how many trials (fits for the peer) it took, and the wall time it used.</summary>
internal sealed record SideResult(double Score, int Trials, int Failed, int Late, double WallSeconds, string Best, string Detail);
