using System.Diagnostics;
using EdgePlatform.Contracts;

namespace EdgePlatform.Training.Sweeps;

/// <summary>How a sweep runs in this process: how many trials at once, and what the winner is registered as.</summary>
public sealed record LocalSweepOptions
{
    /// <summary>Trials running at once, each on its own thread (every trainer is single-threaded); default 1.</summary>
    public int Parallelism { get; init; } = 1;

    /// <summary>Names the sweep in the card's search summary and lineage.</summary>
    public string SweepId { get; init; } = "local";

    /// <summary>The winner's model name; null: the spec's, else its dataset's, else "model".</summary>
    public string? ModelName { get; init; }

    public string ModelVersion { get; init; } = "1.0.0";

    /// <summary>The version of the training code, recorded in lineage.</summary>
    public string CodeVersion { get; init; } = typeof(LocalSweep).Assembly.GetName().Version?.ToString() ?? "unknown";

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}

/// <summary>One trial as it ended: its outcome, or why it failed.</summary>
public sealed record LocalTrial(TrialSpec Trial, TrialOutcome? Outcome, string? Error);

/// <summary>Where a local sweep stands after a trial ends (<see cref="Finished"/>) or when it turns to the refit (null).</summary>
public sealed record LocalSweepProgress(LocalTrial? Finished, int Recorded, int Running, TimeSpan Elapsed, TimeSpan? Budget, int? MaxTrials, double? BestScore, string? BestTrainer);

/// <summary>A finished local sweep: the resolved problem, every trial, the search summary and the refitted, exported winner.</summary>
public sealed record LocalSweepResult(SweepProblem Problem, IReadOnlyList<LocalTrial> Trials, ModelSearchSummary Summary, TrainedModel Model);

/// <summary>
/// Runs a sweep in this process, as <c>edgectl train --local</c> and benchmarks do: the planner
/// proposes, up to <see cref="LocalSweepOptions.Parallelism"/> trials run at once, and when the
/// trial limit or the time budget is reached the best pipeline is refitted on all rows and exported.
/// </summary>
public static class LocalSweep
{
    /// <summary>The time budget when the spec sets neither a budget nor a trial limit.</summary>
    public static readonly TimeSpan DefaultBudget = TimeSpan.FromSeconds(600);

    /// <exception cref="ArgumentException">The spec cannot run on the data (the message names the field).</exception>
    /// <exception cref="InvalidOperationException">No trial succeeded; the message carries the first failure.</exception>
    public static async Task<LocalSweepResult> RunAsync(
        SweepSpec spec, TabularDataset data, LocalSweepOptions options, IProgress<LocalSweepProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Parallelism < 1)
        {
            throw new ArgumentException($"Parallelism must be at least 1; it is {options.Parallelism}.", nameof(options));
        }

        var problem = SweepProblem.Resolve(spec with { Concurrency = options.Parallelism }, data);
        var planner = new SweepPlanner(problem);
        var budget = spec.BudgetSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : spec.MaxTrials is null ? DefaultBudget : (TimeSpan?)null;
        var clock = Stopwatch.StartNew();
        using var deadline = new CancellationTokenSource();
        if (budget is { } b)
        {
            deadline.CancelAfter(b);
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var trials = new List<LocalTrial>();
        var running = new Dictionary<Task<TrialOutcome>, TrialSpec>();
        var stopped = Task.Delay(Timeout.Infinite, stop.Token);
        while (true)
        {
            while (!stop.IsCancellationRequested && running.Count < options.Parallelism && planner.Next() is { } trial)
            {
                running[Task.Run(() => TrialRunner.Run(problem, trial, data, stop.Token), CancellationToken.None)] = trial;
            }

            if (running.Count == 0)
            {
                break;
            }

            // A trial cannot be interrupted inside a fold; one still running when the budget ends is abandoned, not waited for.
            var finished = await Task.WhenAny(running.Keys.Append(stopped)).ConfigureAwait(false);
            if (finished is not Task<TrialOutcome> done)
            {
                cancellationToken.ThrowIfCancellationRequested();
                break;
            }

            var ran = running[done];
            running.Remove(done);
            LocalTrial ended;
            try
            {
                var outcome = await done.ConfigureAwait(false);
                ended = new LocalTrial(ran, outcome, null);
            }
            catch (OperationCanceledException)
            {
                cancellationToken.ThrowIfCancellationRequested();
                continue;
            }
            catch (Exception ex) when (ex is TrialFailedException or ArgumentException)
            {
                ended = new LocalTrial(ran, null, ex.Message);
            }

            planner.Record(ran, ended.Outcome);
            trials.Add(ended);
            progress?.Report(new LocalSweepProgress(ended, planner.Recorded, running.Count, clock.Elapsed, budget, spec.MaxTrials, planner.Best?.Outcome.Score, planner.Best?.Trial.Trainer));
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (planner.Best is null)
        {
            // The budget ended before any configuration reached full fidelity: score the best cheap one in full.
            var cheap = trials.Where(t => t.Outcome is not null)
                .OrderBy(t => SweepMetrics.HigherIsBetter(problem.Metric) ? -t.Outcome!.Score : t.Outcome!.Score)
                .FirstOrDefault()
                ?? throw new InvalidOperationException(trials.Count == 0
                    ? "No trial finished within the budget; give the sweep more time (budgetSeconds) or fewer folds."
                    : $"All {trials.Count} trials failed; the first: {trials[0].Error}");
            var full = cheap.Trial with { Number = trials.Max(t => t.Trial.Number) + 1, Fidelity = 1 };
            var outcome = await Task.Run(() => TrialRunner.Run(problem, full, data, cancellationToken), cancellationToken).ConfigureAwait(false);
            planner.Record(full, outcome);
            trials.Add(new LocalTrial(full, outcome, null));
        }

        progress?.Report(new LocalSweepProgress(null, planner.Recorded, 0, clock.Elapsed, budget, spec.MaxTrials, planner.Best!.Value.Outcome.Score, planner.Best.Value.Trial.Trainer));
        var summary = planner.Summarize(options.SweepId);
        var best = planner.Best!.Value;
        var modelName = options.ModelName ?? spec.ModelName ?? spec.Dataset ?? "model";
        var model = await Task.Run(
            () => SweepRefit.Refit(problem, best.Trial, summary, data, modelName, options.ModelVersion, options.SweepId, options.CodeVersion, options.TimeProvider, best.Outcome),
            cancellationToken).ConfigureAwait(false);
        return new LocalSweepResult(problem, trials, summary, model);
    }
}
