using EdgePlatform.Contracts;

namespace EdgePlatform.Training.Sweeps;

/// <summary>A <see cref="SweepSpec"/> resolved against its data: the task, metric, trainers and validation it runs with.</summary>
public sealed record SweepProblem(
    SweepSpec Spec,
    string Task,
    string Metric,
    IReadOnlyList<string> Trainers,
    string LabelColumn,
    IReadOnlyList<string> FeatureColumns)
{
    /// <summary>Fills the spec's defaults from the data; throws <see cref="ArgumentException"/> naming the field when the spec cannot run on it.</summary>
    public static SweepProblem Resolve(SweepSpec spec, TabularDataset data) => throw new NotImplementedException();
}

/// <summary>
/// Proposes trials and learns from their outcomes. Deterministic for a given spec and history of
/// recorded outcomes, so a control plane that restarts rebuilds it by recording the stored results
/// again in the order they arrived.
/// </summary>
public sealed class SweepPlanner
{
    public SweepPlanner(SweepProblem problem) => throw new NotImplementedException();

    /// <summary>True when the trial limit is reached and every proposed trial has an outcome; a time budget is the caller's to enforce.</summary>
    public bool IsComplete => throw new NotImplementedException();

    /// <summary>The best full-fidelity trial so far and its outcome; null before one has finished.</summary>
    public (TrialSpec Trial, TrialOutcome Outcome)? Best => throw new NotImplementedException();

    /// <summary>The next trial to run, or null when none can be proposed until an outstanding one is recorded.</summary>
    public TrialSpec? Next() => throw new NotImplementedException();

    /// <summary>Records a proposed trial's outcome; null when it failed (it is not retried).</summary>
    public void Record(TrialSpec trial, TrialOutcome? outcome) => throw new NotImplementedException();

    /// <summary>The card's summary of the search so far.</summary>
    public ModelSearchSummary Summarize(string sweepId) => throw new NotImplementedException();
}

/// <summary>Scores one trial on a dataset by the problem's validation (k-fold or hold-out).</summary>
public static class TrialRunner
{
    public static TrialOutcome Run(SweepProblem problem, TrialSpec trial, TabularDataset data, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();
}

/// <summary>Fits the winning trial's pipeline on all the rows, exports it to ONNX, checks parity and writes its card.</summary>
public static class SweepRefit
{
    public static TrainedModel Refit(
        SweepProblem problem,
        TrialSpec best,
        ModelSearchSummary summary,
        TabularDataset data,
        string modelName,
        string modelVersion,
        string runId,
        string codeVersion,
        TimeProvider timeProvider) => throw new NotImplementedException();
}

/// <summary>Reads a dataset snapshot for a sweep, with the label read as its task needs (classes or numbers).</summary>
public static class SweepData
{
    /// <param name="snapshot">The snapshot's bytes, as registered.</param>
    /// <param name="dataset">The registered dataset (its format, kinds, columns and label).</param>
    /// <param name="spec">The sweep; its label and task decide how the label column is read.</param>
    /// <param name="cancellationToken">Stops the read between batches.</param>
    public static TabularDataset Load(Stream snapshot, DatasetInfo dataset, SweepSpec spec, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();
}
