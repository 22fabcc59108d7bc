namespace EdgePlatform.Training.Sweeps;

/// <summary>
/// One trial of a sweep: a trainer, its settings, and the fidelity it is scored at (the share of
/// the rows, or of the trees, it trains with; 1 is the full budget). Plain data, so the durable
/// queue stores it as JSON and a worker's trial process reads it back.
/// </summary>
/// <param name="Number">The trial's number within its sweep, from 1, in the order proposed.</param>
/// <param name="Trainer">A trainer name offered for the sweep's task.</param>
/// <param name="Parameters">Hyperparameter values by name, within the trainer's search space; integers are whole doubles.</param>
/// <param name="Fidelity">In (0, 1]: below 1 during successive halving's early rungs.</param>
/// <param name="Seed">Seeds the trainer and the trial's splits.</param>
public sealed record TrialSpec(int Number, string Trainer, IReadOnlyDictionary<string, double> Parameters, double Fidelity, int Seed);

/// <summary>What a trial scored: the sweep's metric (as validated), every metric computed, and how long it took.</summary>
public sealed record TrialOutcome(double Score, IReadOnlyDictionary<string, double> Metrics, TimeSpan Duration);
