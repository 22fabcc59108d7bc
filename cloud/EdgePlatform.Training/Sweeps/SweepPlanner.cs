using System.Globalization;
using EdgePlatform.Contracts;

namespace EdgePlatform.Training.Sweeps;

/// <summary>
/// Proposes trials and learns from their outcomes. Deterministic for a given spec and history of
/// recorded outcomes, so a control plane that restarts rebuilds it by recording the stored results
/// again in the order they arrived (and <see cref="Resume"/> for trials still running).
/// </summary>
/// <remarks>
/// The search is cost-frugal, as ML.NET AutoML's default tuner and FLAML's CFO are: every trainer
/// starts at its cheap default; afterwards each trainer searches locally around its best point,
/// stepping in a random direction of the unit cube (and, when that fails, in the opposite one),
/// halving its step after repeated failures and restarting from a random point when the step has
/// shrunk away. Trainers are chosen with probability inversely proportional to their estimated
/// cost for improvement: how long their trials take, how long since they last improved, and how far
/// they trail the best. Every new configuration first runs on a cheap rung (a third of the rows,
/// or of the trees for an ensemble); one that ranks in the top third of that rung is promoted to
/// full fidelity, and only full-fidelity results compete for <see cref="Best"/>. Randomness for
/// proposal n comes from a generator seeded by the spec's seed and n, so the state is a function of
/// the recorded history alone.
/// </remarks>
public sealed class SweepPlanner
{
    /// <summary>The cheap rung's share of the rows (or trees).</summary>
    public const double LowFidelity = 1.0 / 3;

    /// <summary>The share of the cheap rung promoted to full fidelity is 1 / this.</summary>
    public const int PromotionRatio = 3;

    private readonly SweepProblem _problem;
    private readonly SweepTrainer[] _trainers;
    private readonly Dictionary<string, TrainerState> _states = new(StringComparer.Ordinal);
    private readonly Dictionary<int, TrialSpec> _outstanding = [];
    private readonly HashSet<string> _proposedKeys = new(StringComparer.Ordinal);
    private readonly HashSet<string> _promotedKeys = new(StringComparer.Ordinal);
    private readonly List<(TrialSpec Trial, double Loss)> _rung = [];
    private readonly List<(TrialSpec Trial, TrialOutcome Outcome)> _full = [];
    private readonly int _concurrency;
    private int _proposed;
    private int _recorded;

    public SweepPlanner(SweepProblem problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        _problem = problem;
        _trainers = [.. problem.Trainers.Select(t => SweepTrainers.Get(problem.Task, t)).OrderBy(t => t.RelativeCost)];
        foreach (var trainer in _trainers)
        {
            _states[trainer.Name] = new TrainerState(trainer);
        }

        _concurrency = problem.Spec.Concurrency ?? int.MaxValue;
    }

    /// <summary>True when the trial limit is reached (or no trainer is left to search) and every proposed trial has an outcome; a time budget is the caller's to enforce.</summary>
    public bool IsComplete => _outstanding.Count == 0 && (_problem.Spec.MaxTrials is { } max && _proposed >= max || _states.Values.All(s => s.Dropped));

    /// <summary>Trials proposed and not yet recorded.</summary>
    public int Outstanding => _outstanding.Count;

    /// <summary>Outcomes recorded so far, failed trials included.</summary>
    public int Recorded => _recorded;

    /// <summary>The best full-fidelity trial so far and its outcome; null before one has finished.</summary>
    public (TrialSpec Trial, TrialOutcome Outcome)? Best =>
        _full.Count == 0 ? null : _full.OrderBy(f => Loss(f.Outcome.Score)).ThenBy(f => f.Trial.Number).First();

    /// <summary>The next trial to run, or null when none can be proposed until an outstanding one is recorded.</summary>
    public TrialSpec? Next()
    {
        if (_problem.Spec.MaxTrials is { } max && _proposed >= max || _outstanding.Count >= _concurrency)
        {
            return null;
        }

        var number = _proposed + 1;
        var random = new Random(ProposalSeed(_problem.Spec.Seed, number));
        var proposal = Promotion() ?? NewConfiguration(random);
        if (proposal is null)
        {
            return null;
        }

        if (proposal.Value.Fidelity < 1 && IsLastChanceForFullFidelity())
        {
            // Nothing has reached the cheap rung to promote yet (trials proposed together at the start):
            // the last trial runs its new configuration in full, so the sweep ends with a winner.
            proposal = (proposal.Value.Trainer, proposal.Value.Parameters, 1);
        }

        var trial = new TrialSpec(number, proposal.Value.Trainer, proposal.Value.Parameters, proposal.Value.Fidelity, _problem.Spec.Seed);
        Resume(trial);
        return trial;
    }

    /// <summary>Registers a trial proposed before a restart whose outcome has not arrived yet, so it is not proposed again.</summary>
    public void Resume(TrialSpec trial)
    {
        ArgumentNullException.ThrowIfNull(trial);
        _outstanding[trial.Number] = trial;
        Remember(trial);
    }

    /// <summary>Records a proposed trial's outcome; null when it failed (it is not retried).</summary>
    public void Record(TrialSpec trial, TrialOutcome? outcome)
    {
        ArgumentNullException.ThrowIfNull(trial);
        if (!_states.TryGetValue(trial.Trainer, out var state))
        {
            throw new ArgumentException($"Trial {trial.Number}'s trainer '{trial.Trainer}' is not one this sweep searches ({string.Join(", ", _problem.Trainers)}).", nameof(trial));
        }

        _outstanding.Remove(trial.Number);
        Remember(trial);
        _recorded++;

        if (outcome is not null)
        {
            state.Seconds += outcome.Duration.TotalSeconds;
            state.Timed++;
        }

        if (trial.Fidelity >= 1)
        {
            if (outcome is not null)
            {
                _full.Add((trial, outcome));
                state.BestFull = Math.Min(state.BestFull, Loss(outcome.Score));
            }

            return;
        }

        var loss = outcome is null ? double.PositiveInfinity : Loss(outcome.Score);
        if (outcome is not null)
        {
            _rung.Add((trial, loss));
        }

        if (outcome is null && Key(trial.Trainer, trial.Parameters) == Key(trial.Trainer, state.Trainer.Defaults))
        {
            // A trainer that fails at its defaults is not worth searching.
            state.Dropped = true;
            return;
        }

        var point = state.ToUnit(trial.Parameters);
        if (loss < state.LocalBest)
        {
            state.Center = point;
            state.LocalBest = loss;
            state.Failures = 0;
            state.SinceImprovement = 0;
            state.Opposites.Clear();
            state.Best = Math.Min(state.Best, loss);
            return;
        }

        state.SinceImprovement++;
        state.Failures++;
        if (state.Center is { } center && state.Dimensions > 0)
        {
            // The step that failed is tried the other way once, as FLOW2 does.
            state.Opposites.Enqueue([.. center.Select((c, i) => Math.Clamp((2 * c) - point[i], 0, 1))]);
        }

        if (state.Failures >= Math.Max(2, state.Dimensions))
        {
            state.Step /= 2;
            state.Failures = 0;
        }
    }

    /// <summary>The card's summary of the search so far.</summary>
    /// <exception cref="InvalidOperationException">No trial has finished at full fidelity yet.</exception>
    public ModelSearchSummary Summarize(string sweepId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sweepId);
        var best = Best ?? throw new InvalidOperationException($"Sweep {sweepId} has no trial finished at full fidelity yet; there is nothing to summarize.");
        var leaders = _full
            .OrderBy(f => Loss(f.Outcome.Score)).ThenBy(f => f.Trial.Number)
            .Take(5)
            .Select(f => new SearchLeader(f.Trial.Number, f.Trial.Trainer, f.Outcome.Score, Describe(f.Trial)))
            .ToArray();
        return new ModelSearchSummary(sweepId, _problem.Metric, _problem.Validation, _recorded, best.Outcome.Score, best.Trial.Trainer, Describe(best.Trial), leaders);
    }

    /// <summary>A trial's parameters as lineage and summaries record them: invariant strings, whole numbers without decimals.</summary>
    public IReadOnlyDictionary<string, string> Describe(TrialSpec trial)
    {
        ArgumentNullException.ThrowIfNull(trial);
        var trainer = SweepTrainers.Get(_problem.Task, trial.Trainer);
        return trainer.Space.ToDictionary(p => p.Name, p => p.Format(trial.Parameters.GetValueOrDefault(p.Name, p.Default)), StringComparer.Ordinal);
    }

    private double Loss(double score) => SweepMetrics.HigherIsBetter(_problem.Metric) ? -score : score;

    private void Remember(TrialSpec trial)
    {
        _proposed = Math.Max(_proposed, trial.Number);
        var key = Key(trial.Trainer, trial.Parameters);
        _proposedKeys.Add(key);
        if (trial.Fidelity >= 1)
        {
            _promotedKeys.Add(key);
        }
    }

    /// <summary>The next trial is the trial limit's last, and no full-fidelity trial has run or is running.</summary>
    private bool IsLastChanceForFullFidelity() =>
        _problem.Spec.MaxTrials - _proposed == 1 && _full.Count == 0 && !_outstanding.Values.Any(o => o.Fidelity >= 1);

    /// <summary>The best cheap-rung result not yet promoted, when it ranks in the top share of its rung.</summary>
    private (string Trainer, IReadOnlyDictionary<string, double> Parameters, double Fidelity)? Promotion()
    {
        if (_rung.Count == 0)
        {
            return null;
        }

        var ranked = _rung.OrderBy(r => r.Loss).ThenBy(r => r.Trial.Number).ToArray();
        var top = (int)Math.Ceiling(ranked.Length / (double)PromotionRatio);
        if (IsLastChanceForFullFidelity())
        {
            // The last trial: make sure the sweep ends with a full-fidelity result.
            var last = ranked.First(r => !_promotedKeys.Contains(Key(r.Trial.Trainer, r.Trial.Parameters))).Trial;
            return (last.Trainer, last.Parameters, 1);
        }

        foreach (var (trial, loss) in ranked.Take(top))
        {
            // A configuration no better on the cheap rung than one of its trainer's already promoted would spend a full trial to learn little.
            if (!_promotedKeys.Contains(Key(trial.Trainer, trial.Parameters))
                && !ranked.Any(r => r.Trial.Trainer == trial.Trainer && r.Loss <= loss && r.Trial.Number != trial.Number && _promotedKeys.Contains(Key(r.Trial.Trainer, r.Trial.Parameters))))
            {
                return (trial.Trainer, trial.Parameters, 1);
            }
        }

        return null;
    }

    private (string Trainer, IReadOnlyDictionary<string, double> Parameters, double Fidelity)? NewConfiguration(Random random)
    {
        // Every trainer's cheap default first, cheapest trainer first.
        foreach (var state in _states.Values.Where(s => !s.Dropped).OrderBy(s => s.Trainer.RelativeCost))
        {
            if (!_proposedKeys.Contains(Key(state.Trainer.Name, state.Trainer.Defaults)))
            {
                return (state.Trainer.Name, state.Trainer.Defaults, LowFidelity);
            }
        }

        var alive = _states.Values.Where(s => !s.Dropped && s.Dimensions > 0).ToArray();
        if (alive.Length == 0)
        {
            return null;
        }

        var chosen = Choose(alive, random);
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var point = Candidate(chosen, random);
            var parameters = chosen.FromUnit(point);
            if (!_proposedKeys.Contains(Key(chosen.Trainer.Name, parameters)))
            {
                return (chosen.Trainer.Name, parameters, LowFidelity);
            }
        }

        // The neighbourhood is used up: start afresh elsewhere.
        chosen.Step = 0;
        var restart = Candidate(chosen, random);
        return (chosen.Trainer.Name, chosen.FromUnit(restart), LowFidelity);
    }

    /// <summary>A trainer drawn with probability inversely proportional to its estimated cost for improvement.</summary>
    private TrainerState Choose(TrainerState[] alive, Random random)
    {
        var timed = alive.Where(s => s.Timed > 0).ToArray();
        var cheapest = timed.Length == 0 ? 1 : timed.Min(s => s.Seconds / s.Timed / s.Trainer.RelativeCost);
        var globalBest = Math.Min(_states.Values.Min(s => s.Best), _states.Values.Min(s => s.BestFull));
        var weights = alive.Select(s =>
        {
            var cost = Math.Max(1e-3, s.Timed > 0 ? s.Seconds / s.Timed : cheapest * s.Trainer.RelativeCost);
            var gap = double.IsFinite(s.Best) && double.IsFinite(globalBest) ? (s.Best - globalBest) / (Math.Abs(globalBest) + 1e-9) : 1;
            return 1 / (cost * (1 + s.SinceImprovement) * (1 + (10 * gap)));
        }).ToArray();
        var draw = random.NextDouble() * weights.Sum();
        for (var i = 0; i < alive.Length; i++)
        {
            draw -= weights[i];
            if (draw <= 0)
            {
                return alive[i];
            }
        }

        return alive[^1];
    }

    private static double[] Candidate(TrainerState state, Random random)
    {
        while (state.Opposites.Count > 0)
        {
            var opposite = state.Opposites.Dequeue();
            if (!state.Tried(opposite))
            {
                return opposite;
            }
        }

        if (state.Step < state.MinimumStep)
        {
            // Stuck: restart the local search from a random point.
            state.Center = [.. Enumerable.Range(0, state.Dimensions).Select(_ => random.NextDouble())];
            state.LocalBest = double.PositiveInfinity;
            state.Step = state.InitialStep;
            state.Failures = 0;
            return state.Center;
        }

        var center = state.Center ?? state.ToUnit(state.Trainer.Defaults);
        var direction = new double[state.Dimensions];
        var norm = 0.0;
        for (var i = 0; i < direction.Length; i++)
        {
            // Box-Muller: a Gaussian vector, normalised, points uniformly over the sphere.
            direction[i] = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            norm += direction[i] * direction[i];
        }

        norm = Math.Sqrt(norm);
        return [.. center.Select((c, i) => Math.Clamp(c + (state.Step * direction[i] / norm), 0, 1))];
    }

    /// <summary>
    /// A seed for proposal <paramref name="number"/> that is the same in every process (unlike
    /// <see cref="HashCode"/>, which is salted per process): SplitMix64's finalizer over both.
    /// </summary>
    internal static int ProposalSeed(int seed, int number)
    {
        var z = ((ulong)(uint)seed << 32) | (uint)number;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (int)(z & int.MaxValue);
    }

    private static string Key(string trainer, IReadOnlyDictionary<string, double> parameters) =>
        trainer + "|" + string.Join(",", parameters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "=" + p.Value.ToString("R", CultureInfo.InvariantCulture)));

    private sealed class TrainerState(SweepTrainer trainer)
    {
        public SweepTrainer Trainer { get; } = trainer;

        public int Dimensions => Trainer.Space.Count;

        public double InitialStep => 0.1 * Math.Sqrt(Math.Max(1, Dimensions));

        public double MinimumStep => 0.01 * Math.Sqrt(Math.Max(1, Dimensions));

        public double[]? Center { get; set; }

        public double Step { get; set; } = 0.1 * Math.Sqrt(Math.Max(1, trainer.Space.Count));

        public double LocalBest { get; set; } = double.PositiveInfinity;

        public double Best { get; set; } = double.PositiveInfinity;

        public double BestFull { get; set; } = double.PositiveInfinity;

        public int Failures { get; set; }

        public int SinceImprovement { get; set; }

        public double Seconds { get; set; }

        public int Timed { get; set; }

        public bool Dropped { get; set; }

        public Queue<double[]> Opposites { get; } = new();

        public double[] ToUnit(IReadOnlyDictionary<string, double> parameters) =>
            [.. Trainer.Space.Select(p => p.ToUnit(parameters.GetValueOrDefault(p.Name, p.Default)))];

        public Dictionary<string, double> FromUnit(double[] point) =>
            Trainer.Space.Select((p, i) => (p.Name, Value: p.FromUnit(point[i]))).ToDictionary(p => p.Name, p => p.Value, StringComparer.Ordinal);

        // An opposite whose rounded parameters equal the centre's is no new point.
        public bool Tried(double[] point) => Center is { } c && point.SequenceEqual(c);
    }
}
