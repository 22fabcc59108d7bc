namespace EdgePlatform.Contracts;

/// <summary>
/// What an automated training search looks for and how long it may look. The same JSON file runs
/// on a data scientist's machine with <c>edgectl train --local</c> and on the control plane's
/// workers with <c>edgectl sweep submit</c>; null fields take the defaults named here.
/// </summary>
/// <remarks>
/// The properties with a non-null default have setters, not <c>init</c>: the source-generated JSON
/// reader assigns every init-only property, so one left out of the JSON would read as 0, not as
/// its default.
/// </remarks>
public sealed record SweepSpec
{
    /// <summary>A registered dataset (<c>name</c> or <c>name@version</c>); a local run reads the file it is given instead.</summary>
    public string? Dataset { get; init; }

    /// <summary>The column to predict; null: the dataset's registered label.</summary>
    public string? Label { get; init; }

    /// <summary>The feature columns; null: every column but the label that the dataset's schema does not ignore.</summary>
    public IReadOnlyList<string>? Features { get; init; }

    /// <summary>One of <see cref="ModelTasks.All"/>; null: inferred from the label (two values: binary, a few: multiclass, numbers: regression).</summary>
    public string? Task { get; init; }

    /// <summary>One of <see cref="SweepMetrics.All"/> that suits the task; null: <see cref="SweepMetrics.DefaultFor"/>.</summary>
    public string? Metric { get; init; }

    /// <summary>Trainer names to search over; null: every trainer offered for the task.</summary>
    public IReadOnlyList<string>? Trainers { get; init; }

    /// <summary>Stop proposing trials after this many; null: no trial limit (the time budget decides).</summary>
    public int? MaxTrials { get; init; }

    /// <summary>Stop proposing trials after this many seconds of wall time; null: 600 unless <see cref="MaxTrials"/> is set.</summary>
    public double? BudgetSeconds { get; init; }

    /// <summary>Folds of cross-validation each trial is scored by; 1 scores on a hold-out of <see cref="HoldoutFraction"/> instead. Default 5.</summary>
    public int Folds { get; set; } = 5;

    /// <summary>The share of rows held out when <see cref="Folds"/> is 1. Default 0.2.</summary>
    public double HoldoutFraction { get; set; } = 0.2;

    /// <summary>Seeds the search, the splits and the trainers, so a rerun proposes the same trials.</summary>
    public int Seed { get; set; } = 42;

    /// <summary>Trials of this sweep running at once over all workers; null: as many as there are workers.</summary>
    public int? Concurrency { get; init; }

    /// <summary>The model the winner is registered as; null: the dataset's name.</summary>
    public string? ModelName { get; init; }

    /// <summary>Per-column feature transforms, as for a single training run.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>>? Transforms { get; init; }

    /// <summary>Feature transforms per column kind, as for a single training run.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>>? TransformsByKind { get; init; }
}

/// <summary>The metrics a sweep can optimize, and which way is better for each.</summary>
public static class SweepMetrics
{
    public const string Auc = "auc";
    public const string Accuracy = "accuracy";
    public const string F1 = "f1";
    public const string LogLoss = "log-loss";
    public const string MacroAccuracy = "macro-accuracy";
    public const string MicroAccuracy = "micro-accuracy";
    public const string Rmse = "rmse";
    public const string Mae = "mae";
    public const string RSquared = "r2";

    public static IReadOnlyList<string> All { get; } = [Auc, Accuracy, F1, LogLoss, MacroAccuracy, MicroAccuracy, Rmse, Mae, RSquared];

    /// <summary>The metrics that apply to <paramref name="task"/> (one of <see cref="ModelTasks.All"/>).</summary>
    public static IReadOnlyList<string> For(string task) => task switch
    {
        ModelTasks.BinaryClassification => [Auc, Accuracy, F1, LogLoss],
        ModelTasks.MulticlassClassification => [MacroAccuracy, MicroAccuracy, LogLoss],
        ModelTasks.Regression => [Rmse, Mae, RSquared],
        _ => [],
    };

    public static string DefaultFor(string task) => task switch
    {
        ModelTasks.MulticlassClassification => MacroAccuracy,
        ModelTasks.Regression => Rmse,
        _ => Auc,
    };

    /// <summary>True when a larger value of <paramref name="metric"/> is a better model.</summary>
    public static bool HigherIsBetter(string metric) => metric is not (LogLoss or Rmse or Mae);
}

/// <summary>
/// What a model card says about the search that chose it: the metric and how it was validated, how
/// many trials ran, the winner's validated score, trainer and settings, and the best few trials.
/// </summary>
public sealed record ModelSearchSummary(
    string SweepId,
    string Metric,
    string Validation,
    int Trials,
    double BestScore,
    string BestTrainer,
    IReadOnlyDictionary<string, string> BestParameters,
    IReadOnlyList<SearchLeader> Leaders);

/// <summary>One of the best trials of a search.</summary>
public sealed record SearchLeader(int Trial, string Trainer, double Score, IReadOnlyDictionary<string, string> Parameters);
