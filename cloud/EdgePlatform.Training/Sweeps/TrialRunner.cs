using System.Diagnostics;
using System.Globalization;
using EdgePlatform.Contracts;
using Microsoft.ML;

namespace EdgePlatform.Training.Sweeps;

/// <summary>Scores one trial on a dataset by the problem's validation (k-fold or hold-out).</summary>
public static class TrialRunner
{
    /// <summary>
    /// Fits the trial's pipeline (the spec's feature transforms, then the trainer) on each fold's
    /// training rows and scores the rest; the metrics are averaged over the folds. Below full
    /// fidelity an ensemble grows that share of its trees, any other trainer sees that share of
    /// each fold's training rows (of each class). Runs synchronously; cancellation is observed
    /// between folds, since ML.NET's trainers do not observe it.
    /// </summary>
    /// <exception cref="TrialFailedException">The trainer failed on the data, or the metric came out NaN or infinite.</exception>
    public static TrialOutcome Run(SweepProblem problem, TrialSpec trial, TabularDataset data, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(trial);
        ArgumentNullException.ThrowIfNull(data);
        var trainer = SweepTrainers.Get(problem.Task, trial.Trainer);
        trainer.Check(trial.Parameters);
        if (trial.Fidelity is not (> 0 and <= 1))
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"Trial {trial.Number}: fidelity {trial.Fidelity} is outside (0, 1]."), nameof(trial));
        }

        var stopwatch = Stopwatch.StartNew();
        var sums = new Dictionary<string, double>(StringComparer.Ordinal);
        var splits = Splits(problem, data, trial.Seed);
        foreach (var (train, test) in splits)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var rows = trainer.IsEnsemble || trial.Fidelity >= 1 ? train : Subsample(data, train, trial.Fidelity, trial.Seed);
            var ml = new MLContext(trial.Seed);
            Dictionary<string, double> metrics;
            try
            {
                var model = Pipeline(ml, problem, trial, data, trainer.IsEnsemble ? trial.Fidelity : 1).Fit(ColumnarDataView.FromRows(data, problem.FeatureColumns, rows, includeLabel: true));
                metrics = Evaluate(ml, problem, model.Transform(ColumnarDataView.FromRows(data, problem.FeatureColumns, test, includeLabel: true)));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new TrialFailedException($"Trial {trial.Number} ({trial.Trainer}) failed: {ex.GetBaseException().Message}", ex);
            }

            foreach (var (name, value) in metrics)
            {
                sums[name] = sums.GetValueOrDefault(name) + value;
            }
        }

        var averaged = sums.ToDictionary(m => m.Key, m => m.Value / splits.Count, StringComparer.Ordinal);
        var score = averaged[problem.Metric];
        if (!double.IsFinite(score))
        {
            throw new TrialFailedException(string.Create(CultureInfo.InvariantCulture, $"Trial {trial.Number} ({trial.Trainer}) scored {problem.Metric} = {score}; the trainer diverged or the data cannot be fitted with these settings."));
        }

        return new TrialOutcome(score, averaged, stopwatch.Elapsed);
    }

    /// <summary>The trial's whole pipeline: feature transforms, trainer, and a calibrator for a binary trainer whose margins are not probabilities.</summary>
    internal static IEstimator<ITransformer> Pipeline(MLContext ml, SweepProblem problem, TrialSpec trial, TabularDataset data, double treeShare)
    {
        var trainer = SweepTrainers.Get(problem.Task, trial.Trainer);
        var (features, _) = FeaturePipeline.Build(ml, problem.FeatureSpec(), data);
        var chain = features.Append(trainer.Create(ml, new TrainerArguments(problem.LabelColumn, trial.Parameters, treeShare, trial.Seed)));
        return trainer.NeedsCalibration
            ? chain.Append(ml.BinaryClassification.Calibrators.Platt(problem.LabelColumn))
            : chain;
    }

    /// <summary>
    /// The folds (or the one hold-out) as (training rows, validation rows). Classes are split
    /// separately, so every fold holds each class in proportion; the seed makes splits reproducible.
    /// </summary>
    internal static IReadOnlyList<(int[] Train, int[] Test)> Splits(SweepProblem problem, TabularDataset data, int seed)
    {
        var random = new Random(seed);
        var folds = problem.Spec.Folds;
        var assignment = new int[data.RowCount];
        foreach (var stratum in Enumerable.Range(0, data.RowCount).GroupBy(data.StratumOf).OrderBy(g => g.Key))
        {
            var rows = stratum.ToArray();
            random.Shuffle(rows);
            if (folds > 1)
            {
                // Continue the fold rotation across classes, so small classes do not all start at fold 0.
                for (var i = 0; i < rows.Length; i++)
                {
                    assignment[rows[i]] = (i + stratum.Key) % folds;
                }
            }
            else
            {
                var testCount = Math.Clamp((int)Math.Round(rows.Length * problem.Spec.HoldoutFraction), 1, Math.Max(1, rows.Length - 1));
                for (var i = 0; i < rows.Length; i++)
                {
                    assignment[rows[i]] = i < testCount ? 0 : 1;
                }
            }
        }

        var all = Enumerable.Range(0, data.RowCount).ToArray();
        return [.. Enumerable.Range(0, Math.Max(1, folds == 1 ? 1 : folds)).Select(f => (Array.FindAll(all, r => assignment[r] != f), Array.FindAll(all, r => assignment[r] == f)))];
    }

    private static int[] Subsample(TabularDataset data, int[] rows, double share, int seed)
    {
        var random = new Random(seed);
        var kept = new List<int>(rows.Length);
        foreach (var stratum in rows.GroupBy(data.StratumOf).OrderBy(g => g.Key))
        {
            var members = stratum.ToArray();
            random.Shuffle(members);
            kept.AddRange(members.Take(Math.Max(Math.Min(2, members.Length), (int)Math.Ceiling(members.Length * share))));
        }

        kept.Sort();
        return [.. kept];
    }

    internal static Dictionary<string, double> Evaluate(MLContext ml, SweepProblem problem, IDataView scored)
    {
        switch (problem.Task)
        {
            case ModelTasks.MulticlassClassification:
            {
                var m = ml.MulticlassClassification.Evaluate(scored, problem.LabelColumn);
                return new(StringComparer.Ordinal) { [SweepMetrics.MacroAccuracy] = m.MacroAccuracy, [SweepMetrics.MicroAccuracy] = m.MicroAccuracy, [SweepMetrics.LogLoss] = m.LogLoss };
            }

            case ModelTasks.Regression:
            {
                var m = ml.Regression.Evaluate(scored, problem.LabelColumn);
                return new(StringComparer.Ordinal) { [SweepMetrics.Rmse] = m.RootMeanSquaredError, [SweepMetrics.Mae] = m.MeanAbsoluteError, [SweepMetrics.RSquared] = m.RSquared };
            }

            default:
            {
                var m = ml.BinaryClassification.Evaluate(scored, problem.LabelColumn);

                // F1 is undefined when nothing is predicted positive; 0 reads as the failure it is.
                return new(StringComparer.Ordinal) { [SweepMetrics.Auc] = m.AreaUnderRocCurve, [SweepMetrics.Accuracy] = m.Accuracy, [SweepMetrics.F1] = double.IsNaN(m.F1Score) ? 0 : m.F1Score, [SweepMetrics.LogLoss] = m.LogLoss };
            }
        }
    }
}
