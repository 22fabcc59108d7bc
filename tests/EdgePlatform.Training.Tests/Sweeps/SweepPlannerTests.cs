using EdgePlatform.Contracts;
using EdgePlatform.Training.Sweeps;

namespace EdgePlatform.Training.Tests.Sweeps;

/// <summary>The search on synthetic objectives, where the optimum is known and a trial costs nothing.</summary>
public sealed class SweepPlannerTests
{
    private static readonly string[] Trainers = ["sdca", "fasttree", "lightgbm"];

    private static SweepProblem Problem(int seed, int? maxTrials, int? concurrency = null) =>
        new(new SweepSpec { Seed = seed, MaxTrials = maxTrials, Concurrency = concurrency }, ModelTasks.Regression, SweepMetrics.Rmse, Trainers, "y", ["x"]);

    /// <summary>
    /// An rmse whose minimum, 0.1, is lightgbm at a point away from its defaults; the other trainers
    /// bottom out higher. A low-fidelity trial reads a little worse, as a cheap rung does.
    /// </summary>
    private static TrialOutcome Objective(TrialSpec trial)
    {
        var trainer = SweepTrainers.Get(ModelTasks.Regression, trial.Trainer);
        var offset = trial.Trainer switch { "lightgbm" => 0.1, "fasttree" => 0.3, _ => 0.6 };
        var distance = trainer.Space.Select((p, i) => Math.Pow(p.ToUnit(trial.Parameters[p.Name]) - (0.2 + (0.1 * i)), 2)).Sum();
        var score = offset + distance + (trial.Fidelity < 1 ? 0.05 : 0);
        return new TrialOutcome(score, new Dictionary<string, double> { [SweepMetrics.Rmse] = score }, TimeSpan.FromSeconds(trainer.RelativeCost * (0.5 + trial.Fidelity)));
    }

    private static double Search(int seed, int budget)
    {
        var planner = new SweepPlanner(Problem(seed, budget));
        while (planner.Next() is { } trial)
        {
            planner.Record(trial, Objective(trial));
        }

        Assert.True(planner.IsComplete);
        return planner.Best!.Value.Outcome.Score;
    }

    private static double RandomSearch(int seed, int budget)
    {
        var random = new Random(seed);
        var best = double.PositiveInfinity;
        for (var i = 0; i < budget; i++)
        {
            var trainer = SweepTrainers.Get(ModelTasks.Regression, Trainers[random.Next(Trainers.Length)]);
            var parameters = trainer.Space.ToDictionary(p => p.Name, p => p.FromUnit(random.NextDouble()));
            best = Math.Min(best, Objective(new TrialSpec(i + 1, trainer.Name, parameters, 1, seed)).Score);
        }

        return best;
    }

    [Fact]
    public void Next_SyntheticObjective_FindsTheOptimumBetterThanRandomSearch()
    {
        const int Budget = 60;
        var seeds = Enumerable.Range(1, 10).ToArray();
        var planned = seeds.Select(s => Search(s, Budget)).ToArray();
        var random = seeds.Select(s => RandomSearch(s, Budget)).ToArray();

        Assert.True(planned.Average() < random.Average(), $"planner mean {planned.Average():F4}, random mean {random.Average():F4}");
        Assert.True(seeds.Count(i => planned[i - 1] < random[i - 1]) >= 8, $"planner {string.Join(", ", planned.Select(p => p.ToString("F3")))}; random {string.Join(", ", random.Select(p => p.ToString("F3")))}");

        // Near the known minimum of 0.1 (which random search rarely gets close to in 60 trials).
        Assert.True(planned.Average() < 0.25, $"planner mean {planned.Average():F4}");
    }

    [Fact]
    public void Next_FirstTrials_AreEachTrainersDefaultsOnTheCheapRung()
    {
        var planner = new SweepPlanner(Problem(1, 10, concurrency: 3));

        var first = new[] { planner.Next()!, planner.Next()!, planner.Next()! };

        Assert.Null(planner.Next());
        Assert.Equal(["sdca", "lightgbm", "fasttree"], first.Select(t => t.Trainer));
        Assert.All(first, t => Assert.Equal(SweepPlanner.LowFidelity, t.Fidelity));
        Assert.All(first, t => Assert.Equal(SweepTrainers.Get(ModelTasks.Regression, t.Trainer).Defaults, t.Parameters));
        Assert.Equal([1, 2, 3], first.Select(t => t.Number));
    }

    [Fact]
    public void Next_AfterCheapRung_PromotesOnlyTheTopThirdToFullFidelity()
    {
        var planner = new SweepPlanner(Problem(1, 50, concurrency: 3));
        var rung = new[] { planner.Next()!, planner.Next()!, planner.Next()! };
        var scores = new[] { 0.9, 0.2, 0.5 };
        for (var i = 0; i < rung.Length; i++)
        {
            planner.Record(rung[i], new TrialOutcome(scores[i], new Dictionary<string, double>(), TimeSpan.FromSeconds(1)));
        }

        var promoted = planner.Next()!;
        Assert.Equal(1, promoted.Fidelity);
        Assert.Equal(rung[1].Trainer, promoted.Trainer);
        Assert.Equal(rung[1].Parameters, promoted.Parameters);

        // The others (ranks 2 and 3 of 3) stay on the cheap rung.
        var next = planner.Next()!;
        Assert.Equal(SweepPlanner.LowFidelity, next.Fidelity);
        Assert.Null(planner.Best);
        planner.Record(promoted, new TrialOutcome(0.15, new Dictionary<string, double>(), TimeSpan.FromSeconds(3)));
        Assert.Equal(promoted.Number, planner.Best!.Value.Trial.Number);
    }

    [Fact]
    public void Record_ReplayedInOrder_RebuildsTheSameProposals()
    {
        var live = new SweepPlanner(Problem(7, 60, concurrency: 3));
        var history = new List<(TrialSpec, TrialOutcome?)>();
        var outstanding = new Queue<TrialSpec>();
        for (var step = 0; step < 25; step++)
        {
            while (live.Next() is { } proposed)
            {
                outstanding.Enqueue(proposed);
            }

            var done = outstanding.Dequeue();
            var outcome = done.Number % 11 == 0 ? null : Objective(done);
            live.Record(done, outcome);
            history.Add((done, outcome));
        }

        var replayed = new SweepPlanner(Problem(7, 60, concurrency: 3));
        foreach (var (trial, outcome) in history)
        {
            replayed.Record(trial, outcome);
        }

        foreach (var trial in outstanding)
        {
            replayed.Resume(trial);
        }

        for (var step = 0; step < 20; step++)
        {
            var a = live.Next();
            var b = replayed.Next();
            Assert.Equal(a?.Number, b?.Number);
            Assert.Equal(a?.Trainer, b?.Trainer);
            Assert.Equal(a?.Parameters, b?.Parameters);
            Assert.Equal(a?.Fidelity, b?.Fidelity);
            var done = outstanding.Count > 0 ? outstanding.Dequeue() : a!;
            if (a is not null && outstanding.Count > 0)
            {
                outstanding.Enqueue(a);
            }

            live.Record(done, Objective(done));
            replayed.Record(done, Objective(done));
        }

        Assert.Equal(live.Summarize("s").BestParameters, replayed.Summarize("s").BestParameters);
    }

    [Fact]
    public void ProposalSeed_IsTheSameInEveryProcess()
    {
        // Fixed values: a control plane that restarts must draw the same proposals it drew before.
        Assert.Equal(177822121, SweepPlanner.ProposalSeed(42, 1));
        Assert.Equal(1685184985, SweepPlanner.ProposalSeed(7, 100));
    }

    [Fact]
    public void IsComplete_TrialLimitReachedAndRecorded_SummarizesTheBest()
    {
        var planner = new SweepPlanner(Problem(3, 12));
        var trials = 0;
        while (planner.Next() is { } trial)
        {
            trials++;
            Assert.False(planner.IsComplete);
            planner.Record(trial, Objective(trial));
        }

        var summary = planner.Summarize("sweep-1");
        Assert.True(planner.IsComplete);
        Assert.Equal(12, trials);
        Assert.Equal(12, summary.Trials);
        Assert.Equal(SweepMetrics.Rmse, summary.Metric);
        Assert.Equal(planner.Best!.Value.Outcome.Score, summary.BestScore);
        Assert.Equal(summary.BestScore, summary.Leaders[0].Score);
        Assert.True(summary.Leaders.Zip(summary.Leaders.Skip(1)).All(p => p.First.Score <= p.Second.Score));
        Assert.All(summary.BestParameters.Values, v => Assert.DoesNotContain(",", v, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 3)]
    [InlineData(4, 2)]
    public void Next_TrialsProposedTogetherUpToTheLimit_EndWithAFullFidelityWinner(int maxTrials, int concurrency)
    {
        // A small limit proposed all at once: no cheap-rung result exists to promote, so the last trial runs in full.
        var planner = new SweepPlanner(Problem(5, maxTrials, concurrency));
        var batch = new List<TrialSpec>();
        while (!planner.IsComplete)
        {
            while (planner.Next() is { } trial)
            {
                batch.Add(trial);
            }

            foreach (var trial in batch)
            {
                planner.Record(trial, Objective(trial));
            }

            batch.Clear();
        }

        Assert.Equal(maxTrials, planner.Recorded);
        Assert.NotNull(planner.Best);
        Assert.Equal(1, planner.Best!.Value.Trial.Fidelity);
    }

    [Fact]
    public void Record_TrainerFailingAtItsDefaults_IsNotProposedAgain()
    {
        var planner = new SweepPlanner(Problem(5, 30));
        while (planner.Next() is { } trial)
        {
            planner.Record(trial, trial.Trainer == "sdca" ? null : Objective(trial));
        }

        Assert.True(planner.IsComplete);
        Assert.NotEqual("sdca", planner.Best!.Value.Trial.Trainer);
    }
}
