using EdgePlatform.Contracts;
using EdgePlatform.Training.Sweeps;
using EdgePlatform.Training.Tests.Data;
using Microsoft.ML;

namespace EdgePlatform.Training.Tests.Sweeps;

/// <summary>The refit's parity check refuses a graph that computes something else: here, inputs bound to the wrong features.</summary>
public sealed class SweepRefitParityTests
{
    [WekaExamplesTheory]
    [InlineData(ModelTasks.MulticlassClassification, "lbfgs-maxent", "probabilities[")]
    [InlineData(ModelTasks.Regression, "sdca", "score")]
    public void CheckParity_InputsBoundToSwappedFeatures_IsRefusedNamingTheOutput(string task, string trainer, string output)
    {
        var data = WekaData.Load(task);
        var problem = SweepProblem.Resolve(new SweepSpec { Trainers = [trainer], Folds = 1 }, data);
        var trial = new TrialSpec(1, trainer, SweepTrainers.Get(task, trainer).Defaults, 1, 3);
        var outcome = TrialRunner.Run(problem, trial, data);
        var summary = new ModelSearchSummary("s", problem.Metric, problem.Validation, 1, outcome.Score, trainer, new Dictionary<string, string>(), []);
        var trained = SweepRefit.Refit(problem, trial, summary, data, "m", "1.0.0", "r", "test", new FixedTimeProvider(DateTimeOffset.UnixEpoch), outcome);

        // The device would feed the first two features into each other's inputs.
        var inputs = trained.Card.Inputs.ToArray();
        (inputs[0], inputs[1]) = (inputs[0] with { Field = inputs[1].Field }, inputs[1] with { Field = inputs[0].Field });
        var swapped = trained.Card with { Inputs = inputs };
        var ml = new MLContext();
        using var stream = new MemoryStream(trained.MlNetModel);
        var model = ml.Model.Load(stream, out _);
        var rows = Enumerable.Range(0, 50).ToArray();
        var featuresOnly = ColumnarDataView.FromRows(data, problem.FeatureColumns, rows, includeLabel: false);

        var ex = Assert.Throws<ParityException>(() => task == ModelTasks.Regression
            ? SweepRefit.CheckRegressionParity(model, featuresOnly, data, rows, trained.OnnxModel, swapped, ParityTolerance.Default)
            : SweepRefit.CheckMulticlassParity(model, featuresOnly, data, rows, trained.OnnxModel, swapped, ParityTolerance.Default));

        Assert.StartsWith(output, ex.Output, StringComparison.Ordinal);
        Assert.Contains("does not reproduce the model", ex.Message, StringComparison.Ordinal);

        // The honest card passes the same check.
        var (report, _) = task == ModelTasks.Regression
            ? SweepRefit.CheckRegressionParity(model, featuresOnly, data, rows, trained.OnnxModel, trained.Card, ParityTolerance.Default)
            : SweepRefit.CheckMulticlassParity(model, featuresOnly, data, rows, trained.OnnxModel, trained.Card, ParityTolerance.Default);
        Assert.Equal(50, report.RowsCompared);
    }
}
