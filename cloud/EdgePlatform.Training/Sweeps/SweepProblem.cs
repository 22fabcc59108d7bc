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
    /// <summary>The most folds a trial is validated by: more costs time without telling trials apart any better.</summary>
    public const int MaximumFolds = 20;

    /// <summary>How the trials are validated, as the card's search summary says it.</summary>
    public string Validation => Spec.Folds > 1
        ? $"{Spec.Folds}-fold {(Task == ModelTasks.Regression ? string.Empty : "stratified ")}cross-validation"
        : $"hold-out of {Spec.HoldoutFraction:P0}{(Task == ModelTasks.Regression ? string.Empty : " per class")}";

    /// <summary>Fills the spec's defaults from the data; throws <see cref="ArgumentException"/> naming the field when the spec cannot run on it.</summary>
    public static SweepProblem Resolve(SweepSpec spec, TabularDataset data)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(data);
        if (spec.Task is { } named && !ModelTasks.All.Contains(named, StringComparer.Ordinal))
        {
            throw Refuse("task", $"'{named}' is not a task; use one of: {string.Join(", ", ModelTasks.All)}");
        }

        if (spec.Task is { } wanted && wanted != data.Task)
        {
            throw Refuse("task", $"the spec asks for {wanted} but label column '{data.LabelColumn}' was read for {data.Task}; load the data with the spec's task");
        }

        if (spec.Label is { } label && label != data.LabelColumn)
        {
            throw Refuse("label", $"the spec's label '{label}' is not the data's label column '{data.LabelColumn}'");
        }

        var task = data.Task;
        var metric = spec.Metric ?? SweepMetrics.DefaultFor(task);
        if (!SweepMetrics.For(task).Contains(metric, StringComparer.Ordinal))
        {
            throw Refuse("metric", $"'{metric}' does not apply to {task}; use one of: {string.Join(", ", SweepMetrics.For(task))}");
        }

        if (spec.Folds is < 1 or > MaximumFolds)
        {
            throw Refuse("folds", $"{spec.Folds} is outside 1 to {MaximumFolds} (1 validates on a hold-out instead)");
        }

        if (spec.Folds == 1 && spec.HoldoutFraction is not (>= 0.05 and <= 0.5))
        {
            throw Refuse("holdoutFraction", $"{spec.HoldoutFraction} is outside 0.05 to 0.5");
        }

        if (spec.MaxTrials is < 1)
        {
            throw Refuse("maxTrials", $"{spec.MaxTrials} is not a positive number of trials");
        }

        if (spec.BudgetSeconds is { } budget && !(budget > 0))
        {
            throw Refuse("budgetSeconds", $"{budget} is not a positive number of seconds");
        }

        if (spec.Concurrency is < 1)
        {
            throw Refuse("concurrency", $"{spec.Concurrency} is not a positive number of trials");
        }

        var minimumClassRows = task == ModelTasks.Regression ? int.MaxValue
            : Enumerable.Range(0, data.RowCount).GroupBy(data.StratumOf).Min(g => g.Count());
        if (spec.Folds > 1 && minimumClassRows < spec.Folds)
        {
            throw Refuse("folds", $"a class of label column '{data.LabelColumn}' has only {minimumClassRows} row(s), fewer than the {spec.Folds} folds; use fewer folds or a hold-out (folds: 1)");
        }

        var features = spec.Features ?? data.FeatureColumns;
        var unknown = features.Where(f => !data.FeatureColumns.Contains(f, StringComparer.Ordinal)).ToArray();
        if (features.Count == 0 || unknown.Length > 0)
        {
            throw Refuse("features", features.Count == 0 ? "no feature columns are listed" : $"{string.Join(", ", unknown)} were not loaded with the data, which has: {string.Join(", ", data.FeatureColumns)}");
        }

        var negativeLabels = task == ModelTasks.Regression && Enumerable.Range(0, data.RowCount).Any(r => data.GetTarget(r) < 0);
        var offered = SweepTrainers.For(task)
            .Where(t => !(negativeLabels && SweepTrainers.NonNegativeLabelTrainers.Contains(t.Name)))
            .Select(t => t.Name)
            .ToArray();
        var trainers = spec.Trainers ?? offered;
        var refused = trainers.Where(t => !offered.Contains(t, StringComparer.Ordinal)).ToArray();
        if (trainers.Count == 0 || refused.Length > 0 || trainers.Distinct(StringComparer.Ordinal).Count() != trainers.Count)
        {
            throw Refuse(
                "trainers",
                trainers.Count == 0 ? "no trainers are listed"
                : refused.Length > 0 ? $"{string.Join(", ", refused)} {(refused.Length == 1 ? "is" : "are")} not offered for {task}{(negativeLabels ? " with negative labels" : string.Empty)}; use any of: {string.Join(", ", offered)}"
                : "a trainer is listed more than once");
        }

        var problem = new SweepProblem(spec, task, metric, [.. trainers], data.LabelColumn, [.. features]);
        try
        {
            var training = problem.FeatureSpec();
            FeaturePipeline.Validate(training, features.ToDictionary(f => f, f => data.FeatureKinds[data.IndexOfFeature(f)], StringComparer.Ordinal));
            foreach (var column in features)
            {
                var index = data.IndexOfFeature(column);
                FeaturePipeline.Resolve(training, column, data.FeatureKinds[index], data.MissingCount(index) > 0);
            }
        }
        catch (ArgumentException ex)
        {
            throw Refuse("transforms", ex.Message);
        }

        return problem;
    }

    /// <summary>The single-run spec the feature pipeline reads its transforms and columns from.</summary>
    internal TrainingSpec FeatureSpec(string? modelName = null, string? modelVersion = null, string? runId = null, string? codeVersion = null) => new()
    {
        ModelName = modelName ?? Spec.ModelName ?? Spec.Dataset ?? "sweep",
        ModelVersion = modelVersion ?? "0.0.0",
        FeatureColumns = FeatureColumns,
        LabelColumn = LabelColumn,
        TrainingRunId = runId ?? "sweep",
        DatasetName = Spec.Dataset ?? "local",
        CodeVersion = codeVersion ?? "unknown",
        Seed = Spec.Seed,
        Transforms = Spec.Transforms,
        TransformsByKind = Spec.TransformsByKind,
    };

    private static ArgumentException Refuse(string field, string reason) => new($"Invalid sweep spec, field '{field}': {reason}.", field);
}
