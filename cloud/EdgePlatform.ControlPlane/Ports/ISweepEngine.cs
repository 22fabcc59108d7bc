using EdgePlatform.Contracts;

namespace EdgePlatform.ControlPlane.Ports;

/// <summary>The search library behind sweeps: reads a snapshot, resolves the spec against it and plans trials.</summary>
public interface ISweepEngine
{
    /// <summary>The build trials must run on: the control plane's own.</summary>
    WorkerBuild Build { get; }

    /// <summary>
    /// Reads <paramref name="snapshot"/> as <paramref name="dataset"/> describes it and resolves
    /// <paramref name="spec"/> against it; throws <see cref="RequestValidationException"/> naming
    /// the field when the spec cannot run on the data.
    /// </summary>
    Task<ISweepSearch> OpenAsync(SweepSpec spec, DatasetInfo dataset, Stream snapshot, CancellationToken cancellationToken);
}

/// <summary>One sweep's planner and data: deterministic for its spec and the results recorded.</summary>
public interface ISweepSearch
{
    string Task { get; }

    string Metric { get; }

    /// <summary>The trial limit is reached and every proposed trial has a result.</summary>
    bool IsComplete { get; }

    /// <summary>The best full-fidelity trial so far; null before one has finished.</summary>
    (ProposedTrial Trial, double Score)? Best { get; }

    /// <summary>The next trial, or null when none can be proposed until an outstanding one is recorded.</summary>
    ProposedTrial? Propose();

    /// <summary>Records a proposed trial's result; null when it failed.</summary>
    void Record(ProposedTrial trial, TrialResultRecord? result);

    ModelSearchSummary Summarize(string sweepId);

    /// <summary>Fits <paramref name="best"/> on every row, exports it, checks parity and writes its card with <paramref name="summary"/>.</summary>
    Task<TrainedModel> RefitAsync(ProposedTrial best, ModelSearchSummary summary, string modelName, string modelVersion, string runId, CancellationToken cancellationToken);
}

public sealed record ProposedTrial(int Number, string Trainer, IReadOnlyDictionary<string, double> Parameters, double Fidelity, int Seed);
